# Stage 7 - figures (PNG + PDF), one rule per figure, all models of a dataset x context.
# Plotting is quick: on a cluster it runs on the submitting node. Each PNG goes into
# `snakemake --report` with the caption in workflow/report/<figure>.rst.

localrules:
    fig_ba_per_layer,
    fig_iou,
    fig_spread,
    fig_linguistic,
    fig_positions,
    fig_masking,
    fig_noise_ceiling,
    fig_stability,
    fig_recovery,
    brain_map,
    fig_context_control,


rule fig_ba_per_layer:
    input:
        per_model(f"{RUN}/layers.tsv"),
    output:
        png=report(
            f"{SUMMARY}/figures/ba_per_layer.png",
            caption="../report/ba_per_layer.rst",
            category="{dataset}, L = {context} words",
            subcategory="Paper figures",
            labels={"figure": "BA per layer"},
        ),
        pdf=f"{SUMMARY}/figures/ba_per_layer.pdf",
    params:
        models=MODELS,
        figure="ba_per_layer",
    log:
        "results/logs/fig_ba_per_layer/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/fig_ba_per_layer/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_iou:
    input:
        per_model(f"{ATTR}/analysis/iou.tsv"),
    output:
        png=report(
            f"{ASUMMARY}/figures/fig2_iou.png",
            caption="../report/fig2_iou.rst",
            category="{dataset}, L = {context} words, {method}",
            subcategory="Paper figures",
            labels={"figure": "Fig. 2: BA/NWP overlap"},
        ),
        pdf=f"{ASUMMARY}/figures/fig2_iou.pdf",
    params:
        models=MODELS,
        figure="iou",
    log:
        "results/logs/fig_iou/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/fig_iou/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_spread:
    input:
        sets=per_model(f"{ATTR}/analysis/important_sets.tsv"),
        tests=f"{ASUMMARY}/spread_tests.tsv",
    output:
        png=report(
            f"{ASUMMARY}/figures/fig3_spread.png",
            caption="../report/fig3_spread.rst",
            category="{dataset}, L = {context} words, {method}",
            subcategory="Paper figures",
            labels={"figure": "Fig. 3: spread"},
        ),
        pdf=f"{ASUMMARY}/figures/fig3_spread.pdf",
    params:
        models=MODELS,
        figure="spread",
    log:
        "results/logs/fig_spread/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/fig_spread/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_linguistic:
    input:
        per_model(f"{ATTR}/analysis/linguistic.tsv"),
    output:
        png=report(
            f"{ASUMMARY}/figures/fig4_linguistic.png",
            caption="../report/fig4_linguistic.rst",
            category="{dataset}, L = {context} words, {method}",
            subcategory="Paper figures",
            labels={"figure": "Fig. 4: linguistic groups"},
        ),
        pdf=f"{ASUMMARY}/figures/fig4_linguistic.pdf",
    params:
        models=MODELS,
        figure="linguistic",
    log:
        "results/logs/fig_linguistic/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/fig_linguistic/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_positions:
    input:
        hist=per_model(f"{ATTR}/analysis/positions.tsv"),
        com=per_model(f"{ATTR}/analysis/center_of_mass.tsv"),
    output:
        png=report(
            f"{ASUMMARY}/figures/fig5_positions.png",
            caption="../report/fig5_positions.rst",
            category="{dataset}, L = {context} words, {method}",
            subcategory="Paper figures",
            labels={"figure": "Fig. 5: positions"},
        ),
        pdf=f"{ASUMMARY}/figures/fig5_positions.pdf",
    params:
        models=MODELS,
        figure="positions",
        threshold=config["analysis"]["position_threshold"],
    log:
        "results/logs/fig_positions/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/fig_positions/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_masking:
    input:
        per_model(f"{ATTR}/analysis/masking.tsv"),
    output:
        png=report(
            f"{ASUMMARY}/figures/masking.png",
            caption="../report/masking.rst",
            category="{dataset}, L = {context} words, {method}",
            subcategory="Paper figures",
            labels={"figure": "Masking with controls"},
        ),
        pdf=f"{ASUMMARY}/figures/masking.pdf",
    params:
        models=MODELS,
        figure="masking",
    log:
        "results/logs/fig_masking/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/fig_masking/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_noise_ceiling:
    input:
        per_model(f"{RUN}/analysis/noise_ceiling.tsv"),
    output:
        png=report(
            f"{SUMMARY}/figures/noise_ceiling.png",
            caption="../report/noise_ceiling.rst",
            category="{dataset}, L = {context} words",
            subcategory="Beyond the paper",
            labels={"figure": "Noise ceiling"},
        ),
        pdf=f"{SUMMARY}/figures/noise_ceiling.pdf",
    params:
        models=MODELS,
        figure="noise_ceiling",
    log:
        "results/logs/fig_noise_ceiling/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/fig_noise_ceiling/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_stability:
    input:
        per_model(f"{ATTR}/analysis/stability.tsv"),
    output:
        png=report(
            f"{ASUMMARY}/figures/stability.png",
            caption="../report/stability.rst",
            category="{dataset}, L = {context} words, {method}",
            subcategory="Beyond the paper",
            labels={"figure": "Attribution stability"},
        ),
        pdf=f"{ASUMMARY}/figures/stability.pdf",
    params:
        models=MODELS,
        figure="stability",
    log:
        "results/logs/fig_stability/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/fig_stability/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_recovery:
    input:
        f"{ASUMMARY}/demo_recovery.tsv",
    output:
        png=report(
            f"{ASUMMARY}/figures/recovery.png",
            caption="../report/recovery.rst",
            category="{dataset}, L = {context} words, {method}",
            subcategory="Demo ground truth",
            labels={"figure": "Planted words recovered"},
        ),
        pdf=f"{ASUMMARY}/figures/recovery.pdf",
    params:
        models=MODELS,
        figure="recovery",
    log:
        "results/logs/fig_recovery/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/fig_recovery/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule brain_map:
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
        png=report(
            f"{SUMMARY}/figures/brain_map_{{model}}.png",
            caption="../report/brain_map.rst",
            category="{dataset}, L = {context} words",
            subcategory="Beyond the paper",
            labels={"figure": "Brain map", "model": "{model}"},
        ),
        pdf=f"{SUMMARY}/figures/brain_map_{{model}}.pdf",
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
    log:
        "results/logs/brain_map/{dataset}_{model}_ctx{context}.log",
    benchmark:
        "results/benchmarks/brain_map/{dataset}_{model}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/brain_map.py"


rule fig_context_control:
    input:
        com=expand(
            f"{ATTR}/analysis/center_of_mass.tsv", model=MODELS, context=CONTEXTS, allow_missing=True
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
    params:
        model_contexts=[[m, c] for m in MODELS for c in CONTEXTS],
        threshold=config["analysis"]["position_threshold"],
    log:
        "results/logs/fig_context_control/{dataset}_{method}.log",
    benchmark:
        "results/benchmarks/fig_context_control/{dataset}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/context_control.py"
