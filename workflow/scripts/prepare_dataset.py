from pathlib import Path

from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.sources import prepare  # noqa: E402

prepare(
    snakemake.params.spec,
    snakemake.params.folder,
    Path(snakemake.output[0]).parent,
    snakemake.wildcards.dataset,
)
