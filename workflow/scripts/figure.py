from brainattr.figures import run_figure
from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
run_figure(
    snakemake.params.figure,
    snakemake.params.models,
    snakemake.input,
    snakemake.output.png,
    snakemake.output.pdf,
    title=", ".join(
        [
            snakemake.wildcards.dataset,
            f"L = {snakemake.wildcards.context} words",
            *(
                [snakemake.wildcards.method.upper()]
                if "method" in snakemake.wildcards.keys()
                else []
            ),
        ]
    ),
    threshold=snakemake.params.get("threshold"),
)
