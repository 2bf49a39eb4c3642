from brainattr.workflow import encoding_inputs, setup_script

setup_script(snakemake.log[0], snakemake.threads, model_job=True)
from brainattr.faithfulness import run_faithfulness  # noqa: E402

run_faithfulness(
    snakemake.params.dataset_dir,
    snakemake.params.model,
    int(snakemake.wildcards.context),
    snakemake.input.scores,
    snakemake.input.targets,
    encoding_inputs(snakemake.input),
    snakemake.input.features,
    snakemake.params.settings,
    snakemake.params.words,
    snakemake.output.targets,
    snakemake.output.curves,
    snakemake.output.aopc,
    null_scores_path=snakemake.input.get("null_scores"),
)
