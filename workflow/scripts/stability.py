from brainattr.stability import run_stability
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
run_stability(
    snakemake.input.scores,
    snakemake.input.repeat_scores,
    snakemake.params.threshold,
    snakemake.params.seed,
    snakemake.output[0],
)
