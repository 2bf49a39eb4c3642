from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.layers import run_layer_selection  # noqa: E402

encodings = [v for k, v in snakemake.input.items() if "|" in k]
run_layer_selection(encodings, snakemake.input.features, snakemake.output[0])
