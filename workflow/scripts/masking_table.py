from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.masking_tables import run_masking_summary  # noqa: E402

run_masking_summary(
    dict(zip(snakemake.params.models, snakemake.input, strict=True)), snakemake.output[0]
)
