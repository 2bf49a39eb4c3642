from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.statistics import run_spread_tests  # noqa: E402

run_spread_tests(
    snakemake.params.dataset_dir,
    int(snakemake.wildcards.context),
    snakemake.params.n_delays,
    snakemake.params.inference,
    dict(zip(snakemake.params.models, snakemake.input.spread, strict=True)),
    snakemake.params.alpha,
    snakemake.params.seed,
    snakemake.output[0],
)
