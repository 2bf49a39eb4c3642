from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.reliability import run_subject_ceiling  # noqa: E402

run_subject_ceiling(
    snakemake.params.dataset_dir,
    snakemake.wildcards.subject,
    snakemake.params.roi,
    snakemake.output[0],
    snakemake.params.encoding,
)
