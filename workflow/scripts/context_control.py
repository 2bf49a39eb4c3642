from brainattr.workflow import setup_script

setup_script(snakemake.log[0], plots=True)
from brainattr.figures import run_context_control  # noqa: E402

w = snakemake.wildcards
run_context_control(
    snakemake.params.model_contexts,
    list(snakemake.input.com),
    list(snakemake.input.iou),
    snakemake.params.threshold,
    f"Context length control - {w.dataset}, {w.method.upper()}",
    snakemake.output.png,
    snakemake.output.pdf,
)
