from brainattr.workflow import setup_script

setup_script(snakemake.log[0], plots=True)
from brainattr.paper_check import run_paper_check_summary  # noqa: E402

run_paper_check_summary(
    list(snakemake.input), snakemake.output.table, snakemake.output.png, snakemake.output.pdf
)
