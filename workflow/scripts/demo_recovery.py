from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.recovery import run_recovery  # noqa: E402

run_recovery(
    snakemake.params.dataset_dir,
    dict(zip(snakemake.params.models, snakemake.input.scores, strict=True)),
    snakemake.params.threshold,
    snakemake.output[0],
    dict(zip(snakemake.params.models, snakemake.input.null_scores, strict=True)),
    context_words=int(snakemake.wildcards.context),
    n_delays=snakemake.params.n_delays,
    inference=snakemake.params.inference,
    seed=snakemake.params.seed,
)
