from brainattr.paper_check import run_paper_check_summary
from brainattr.workflow import setup_script

setup_script(snakemake.log[0], plots=True)
run_paper_check_summary(
    list(snakemake.input), snakemake.output.table, snakemake.output.png, snakemake.output.pdf
)
