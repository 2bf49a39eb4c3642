# Stage 7 - figures (PNG + PDF), all models of a dataset x context. One rule per figure of
# brainattr.figure_registry (fig_<name>), made in the loop below; the brain map and the
# context-length control have rules of their own. Plotting is quick: on a cluster it runs on
# the submitting node. Each PNG goes into `snakemake --report` with the caption in
# workflow/report/<file>.rst.


localrules:
    brain_map,
    fig_context_control,


for spec in FIGURES.values():
    out = ASUMMARY if spec.per_method else SUMMARY
    tag = "{dataset}_ctx{context}" + ("_{method}" if spec.per_method else "")

    rule:
        """A figure of brainattr.figure_registry (PNG and PDF, with its report caption)."""
        name:
            f"fig_{spec.name}"
        input:
            **figure_inputs(spec),
        output:
            png=report(
                f"{out}/figures/{spec.file}.png",
                caption=f"../report/{spec.file}.rst",
                category="{dataset}, L = {context} words"
                + (", {method}" if spec.per_method else ""),
                subcategory=spec.subcategory,
                labels={"figure": spec.label},
            ),
            pdf=f"{out}/figures/{spec.file}.pdf",
        log:
            f"results/logs/fig_{spec.name}/{tag}.log",
        benchmark:
            f"results/benchmarks/fig_{spec.name}/{tag}.tsv"
        localrule: True
        conda:
            "../../envs/analysis.yaml"
        params:
            models=figure_models(spec),
            figure=spec.name,
            plot_params={k: config_value(config, v) for k, v in spec.params.items()},
        script:
            "../scripts/figure.py"


rule brain_map:
    """4D NIfTI and glass-brain figure of the subject-mean BA of the selected layers."""
    input:
        unpack(
            lambda wc: {
                "data": dataset_files(wc.dataset),
                "layers": f"{RUN}/layers.tsv".format(**wc),
                **encoding_files(wc),
            }
        ),
    output:
        nifti=f"{RUN}/analysis/ba_map.nii.gz",
        sidecar=f"{RUN}/analysis/ba_map.json",
        png=report(
            f"{SUMMARY}/figures/brain_map_{{model}}.png",
            caption="../report/brain_map.rst",
            category="{dataset}, L = {context} words",
            subcategory="Beyond the paper",
            labels={"figure": "Brain map", "model": "{model}"},
        ),
        pdf=f"{SUMMARY}/figures/brain_map_{{model}}.pdf",
    log:
        "results/logs/brain_map/{dataset}_{model}_ctx{context}.log",
    benchmark:
        "results/benchmarks/brain_map/{dataset}_{model}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
    script:
        "../scripts/brain_map.py"


rule fig_context_control:
    """The context-length control: centre of mass and IoU per L."""
    input:
        com=expand(
            f"{ATTR}/analysis/center_of_mass.tsv",
            model=MODELS,
            context=CONTEXTS,
            allow_missing=True,
        ),
        iou=expand(f"{ATTR}/analysis/iou.tsv", model=MODELS, context=CONTEXTS, allow_missing=True),
    output:
        png=report(
            "results/{dataset}/{method}/figures/context_control.png",
            caption="../report/context_control.rst",
            category="{dataset}, all context lengths, {method}",
            subcategory="Paper figures",
            labels={"figure": "Context length control"},
        ),
        pdf="results/{dataset}/{method}/figures/context_control.pdf",
    log:
        "results/logs/fig_context_control/{dataset}_{method}.log",
    benchmark:
        "results/benchmarks/fig_context_control/{dataset}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        model_contexts=[[m, c] for m in MODELS for c in CONTEXTS],
        threshold=config["analysis"]["position_threshold"],
    script:
        "../scripts/context_control.py"
