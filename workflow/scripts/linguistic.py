from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.linguistic import run_linguistic  # noqa: E402

run_linguistic(
    snakemake.params.dataset_dir,
    snakemake.input.scores,
    snakemake.params.thresholds,
    snakemake.output.table,
    null_scores_path=snakemake.input.null_scores,
    out_null_path=snakemake.output.null_table,
)
