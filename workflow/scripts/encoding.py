from brainattr.workflow import setup_script

setup_script(snakemake.log[0], snakemake.threads)
from brainattr.encoding import run_encoding  # noqa: E402

run_encoding(
    snakemake.params.dataset_dir,
    snakemake.input.features,
    snakemake.wildcards.subject,
    int(snakemake.wildcards.layer),
    snakemake.params.roi,
    snakemake.params.n_delays,
    snakemake.params.alphas,
    snakemake.params.inner_folds,
    snakemake.output[0],
    backend=snakemake.params.backend,
    targets_batch=snakemake.params.targets_batch,
    alphas_batch=snakemake.params.alphas_batch,
    model=snakemake.params.model,
    seed=snakemake.params.seed,
    dtype=snakemake.params.dtype,
)
