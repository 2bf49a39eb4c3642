from brainattr.workflow import encoding_inputs, setup_script

setup_script(snakemake.log[0], plots=True)
from brainattr.brainmap import run_brain_map  # noqa: E402

w = snakemake.wildcards
run_brain_map(
    snakemake.params.dataset_dir,
    encoding_inputs(snakemake.input),
    snakemake.input.layers,
    snakemake.output.nifti,
    snakemake.output.png,
    snakemake.output.pdf,
    out_sidecar=snakemake.output.sidecar,
    title=f"BA (held-out r), mean over subjects - {w.dataset}, {w.model}, L = {w.context} words",
)
