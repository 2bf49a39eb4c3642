import pandas as pd

from brainattr.figures import context_control
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
keys = snakemake.params.model_contexts  # (model, context) of each input, in order


def read(paths):
    return {tuple(k): pd.read_csv(p, sep="\t") for k, p in zip(keys, paths, strict=True)}


context_control(
    read(snakemake.input.com),
    read(snakemake.input.iou),
    snakemake.params.threshold,
    f"Context length control - {snakemake.wildcards.dataset}, {snakemake.wildcards.method.upper()}",
    snakemake.output.png,
    snakemake.output.pdf,
)
