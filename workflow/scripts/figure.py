from brainattr.workflow import setup_script

setup_script(snakemake.log[0], plots=True)
from brainattr.figure_registry import FIGURES, draw_figure  # noqa: E402

w = snakemake.wildcards
draw_figure(
    snakemake.params.figure,
    snakemake.params.models,
    {role: snakemake.input[role] for role in FIGURES[snakemake.params.figure].inputs},
    snakemake.output.png,
    snakemake.output.pdf,
    title=", ".join(
        [w.dataset, f"L = {w.context} words", *([w.method.upper()] if "method" in w.keys() else [])]
    ),
    **snakemake.params.plot_params,
)
