from brainattr.masking_tables import run_masking_summary
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
run_masking_summary(
    dict(zip(snakemake.params.models, snakemake.input, strict=True)), snakemake.output[0]
)
