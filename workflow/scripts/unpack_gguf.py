from brainattr.workflow import setup_script

setup_script(snakemake.log[0], snakemake.threads, model_job=True)
from brainattr.models import unpack_gguf  # noqa: E402

unpack_gguf(snakemake.params.spec, snakemake.params.folder, snakemake.output[0])
