from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.analysis_stage import run_analyses  # noqa: E402

run_analyses(
    snakemake.input.scores,
    snakemake.params.thresholds,
    snakemake.params.position_threshold,
    snakemake.params.seed,
    dict(snakemake.output.items()),
    snakemake.input.null_scores,
    important_words=snakemake.params.important_words,
)
