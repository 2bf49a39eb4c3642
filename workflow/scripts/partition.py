from brainattr.workflow import setup_script

setup_script(snakemake.log[0], snakemake.threads)
from brainattr.partition import run_partition  # noqa: E402

run_partition(
    snakemake.params.dataset_dir,
    snakemake.input.activations,
    snakemake.input.attributions,
    snakemake.wildcards.subject,
    int(snakemake.wildcards.layer),
    snakemake.params.roi,
    snakemake.params.n_delays,
    snakemake.params.alphas,
    snakemake.params.inner_folds,
    snakemake.params.n_iter,
    snakemake.params.seed,
    snakemake.output[0],
    backend=snakemake.params.backend,
)
