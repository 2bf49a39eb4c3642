from brainattr.workflow import encoding_inputs, setup_script

setup_script(snakemake.log[0])
from brainattr.reliability import run_noise_ceiling  # noqa: E402

run_noise_ceiling(
    encoding_inputs(snakemake.input),
    list(snakemake.input.ceilings),
    snakemake.output[0],
)
