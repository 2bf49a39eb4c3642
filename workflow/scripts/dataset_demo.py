from pathlib import Path

from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.demo import make_demo_dataset  # noqa: E402

make_demo_dataset(Path(snakemake.output[0]).parent, snakemake.params.demo, snakemake.params.seed)
