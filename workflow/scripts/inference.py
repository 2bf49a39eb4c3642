from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.statistics import run_inference  # noqa: E402

run_inference(
    snakemake.params.dataset_dir,
    int(snakemake.wildcards.context),
    snakemake.params.n_delays,
    snakemake.params.inference,
    snakemake.params.seed,
    {k: v for k, v in snakemake.input.items() if k != "data"},
    snakemake.output[0],
)
