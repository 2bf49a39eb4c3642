from brainattr.workflow import encoding_inputs, setup_script

setup_script(snakemake.log[0])
from brainattr.reliability import run_noise_ceiling  # noqa: E402

run_noise_ceiling(
    snakemake.params.dataset_dir,
    encoding_inputs(snakemake.input),
    snakemake.output[0],
    snakemake.params.encoding,
)
