from brainattr.workflow import encoding_inputs, setup_script

setup_script(snakemake.log[0], snakemake.threads, model_job=True)
from brainattr.attribution.stage import AttributionSettings, run_attribution  # noqa: E402

run_attribution(
    snakemake.params.dataset_dir,
    snakemake.params.model,
    int(snakemake.wildcards.context),
    snakemake.input.layers,
    encoding_inputs(snakemake.input),
    snakemake.input.features,
    AttributionSettings.from_config(
        snakemake.params.attribution,
        method=snakemake.wildcards.method,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
        batch_tokens=snakemake.params.batch_tokens,
    ),
    snakemake.output.scores,
    snakemake.output.targets,
    out_repeat_scores=snakemake.output.repeat_scores,
    out_null_scores=snakemake.output.null_scores,
)
