from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.statistics import run_inference  # noqa: E402


def one_path(value):
    """A named input is a path, or a list of one path (or none: the table does not apply)."""
    return value if isinstance(value, str) else (value[0] if len(value) else None)


run_inference(
    snakemake.params.dataset_dir,
    int(snakemake.wildcards.context),
    snakemake.params.n_delays,
    snakemake.params.inference,
    snakemake.params.seed,
    {k: one_path(snakemake.input[k]) for k in snakemake.input.keys() if k != "data"},
    snakemake.output[0],
)
