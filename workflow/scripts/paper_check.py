from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.paper_check import run_paper_check  # noqa: E402

tables = {"data", "reference", "spread_tests"}
run_paper_check(
    snakemake.input.reference,
    snakemake.wildcards.dataset,
    snakemake.params.source,
    snakemake.params.dataset_dir,
    int(snakemake.wildcards.context),
    snakemake.wildcards.method,
    snakemake.params.n_delays,
    snakemake.params.models,
    {
        name: dict(zip(snakemake.params.models, snakemake.input[name], strict=True))
        for name in snakemake.input.keys()
        if name not in tables
    },
    snakemake.input.spread_tests,
    snakemake.params.settings,
    snakemake.params.seed,
    snakemake.output[0],
)
