from pathlib import Path

from brainattr.sources import prepare
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
prepare(
    snakemake.params.spec,
    snakemake.params.folder,
    Path(snakemake.output[0]).parent,
    snakemake.wildcards.dataset,
)
