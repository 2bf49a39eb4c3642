from brainattr.analysis import run_spread_tests
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
run_spread_tests(
    dict(zip(snakemake.params.models, snakemake.input, strict=True)),
    snakemake.params.alpha,
    snakemake.output[0],
)
