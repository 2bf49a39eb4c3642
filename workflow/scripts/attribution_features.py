from brainattr.workflow import setup_script

setup_script(snakemake.log[0], snakemake.threads, model_job=True)
from brainattr.attribution_features import run_attribution_features  # noqa: E402

run_attribution_features(
    snakemake.params.dataset_dir,
    snakemake.params.model,
    int(snakemake.wildcards.context),
    snakemake.params.attribution_words,
    snakemake.output[0],
    device=snakemake.params.device,
    batch_tokens=snakemake.params.batch_tokens,
)
