from brainattr.sources import download_file
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
download_file(snakemake.params.spec, snakemake.wildcards.path, snakemake.params.folder)
