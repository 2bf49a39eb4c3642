from brainattr.linguistic import run_linguistic
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
run_linguistic(
    snakemake.params.dataset_dir,
    snakemake.input.scores,
    snakemake.params.thresholds,
    snakemake.output[0],
)
