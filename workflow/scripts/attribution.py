from brainattr.attribution import run_attribution
from brainattr.workflow import encoding_inputs, setup_script

setup_script(snakemake.log[0], snakemake.threads)
a = snakemake.params.attribution
run_attribution(
    snakemake.params.dataset_dir,
    snakemake.params.model,
    int(snakemake.wildcards.context),
    snakemake.input.layers,
    encoding_inputs(snakemake.input),
    snakemake.input.features,
    snakemake.params.n_delays,
    snakemake.wildcards.method,
    a["ig_steps"],
    a["n_targets"],
    snakemake.params.seed,
    snakemake.output.scores,
    snakemake.output.targets,
    device=snakemake.params.device,
    batch_tokens=snakemake.params.batch_tokens,
    vjp_batch=a["vjp_batch"],
    engine=a["engine"],
    repeats=a["repeats"],
    out_repeat_scores=snakemake.output.repeat_scores,
)
