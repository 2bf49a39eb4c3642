from brainattr.models import download_model
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
download_model(snakemake.params.spec, snakemake.params.cache_dir, snakemake.output[0])
