from brainattr.analysis import run_analyses
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
run_analyses(
    snakemake.input[0],
    snakemake.params.thresholds,
    snakemake.params.position_threshold,
    snakemake.params.seed,
    dict(snakemake.output.items()),
)
