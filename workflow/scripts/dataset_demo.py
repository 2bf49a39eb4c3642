from pathlib import Path

from brainattr.demo import make_demo_dataset
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
make_demo_dataset(Path(snakemake.output[0]).parent, snakemake.params.demo, snakemake.params.seed)
