from brainattr.workflow import setup_script

setup_script(snakemake.log[0])
from brainattr.statistics import run_inference  # noqa: E402

run_inference(
    snakemake.params.dataset_dir,
    int(snakemake.wildcards.context),
    snakemake.params.n_delays,
    snakemake.params.inference,
    snakemake.params.seed,
    {k: snakemake.input[k] for k in ("spread", "center_of_mass", "iou", "stability")},
    snakemake.output[0],
)
