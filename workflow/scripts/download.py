from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.sources import download_file  # noqa: E402

download_file(snakemake.params.spec, snakemake.wildcards.path, snakemake.params.folder)
