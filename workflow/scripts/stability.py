from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.stability import run_stability  # noqa: E402

run_stability(
    snakemake.input.scores,
    snakemake.input.repeat_scores,
    snakemake.params.threshold,
    snakemake.params.seed,
    snakemake.output.stability,
    snakemake.input.null_scores,
    snakemake.output.null_stability,
)
