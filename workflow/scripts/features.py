from brainattr.workflow import setup_script

setup_script(snakemake.log[0], snakemake.threads, model_job=True)
from brainattr.features import run_features  # noqa: E402

run_features(
    snakemake.params.dataset_dir,
    snakemake.params.model,
    int(snakemake.wildcards.context),
    snakemake.output[0],
    device=snakemake.params.device,
    batch_tokens=snakemake.params.batch_tokens,
    mode=snakemake.params.mode,
    stride_words=snakemake.params.stride_words or None,
)
