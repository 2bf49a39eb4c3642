from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.models import download_model  # noqa: E402

download_model(snakemake.params.spec, snakemake.params.cache_dir, snakemake.output[0])
