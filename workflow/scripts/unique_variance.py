from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.partition import run_unique_variance  # noqa: E402

run_unique_variance([v for k, v in snakemake.input.items() if "|" in k], snakemake.output[0])
