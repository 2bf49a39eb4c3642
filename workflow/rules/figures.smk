# Stage 7 - figures (PNG + PDF), one rule per paper figure, all models of a dataset x context.
# Plotting is quick: on a cluster it runs on the submitting node.

localrules:
    fig_ba_per_layer,
    fig_iou,
    fig_spread,
    fig_positions,
    fig_masking,
    fig_recovery,



rule fig_ba_per_layer:
    input:
        per_model(f"{RUN}/layers.tsv"),
    output:
        png=f"{SUMMARY}/figures/ba_per_layer.png",
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
        per_model(f"{RUN}/analysis/iou.tsv"),
    output:
        png=f"{SUMMARY}/figures/fig2_iou.png",
        pdf=f"{SUMMARY}/figures/fig2_iou.pdf",
    params:
        models=MODELS,
        figure="iou",
    log:
        "results/logs/fig_iou/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/fig_iou/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_spread:
    input:
        sets=per_model(f"{RUN}/analysis/important_sets.tsv"),
        tests=f"{SUMMARY}/spread_tests.tsv",
    output:
        png=f"{SUMMARY}/figures/fig3_spread.png",
        pdf=f"{SUMMARY}/figures/fig3_spread.pdf",
    params:
        models=MODELS,
        figure="spread",
    log:
        "results/logs/fig_spread/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/fig_spread/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_positions:
    input:
        hist=per_model(f"{RUN}/analysis/positions.tsv"),
        com=per_model(f"{RUN}/analysis/center_of_mass.tsv"),
    output:
        png=f"{SUMMARY}/figures/fig5_positions.png",
        pdf=f"{SUMMARY}/figures/fig5_positions.pdf",
    params:
        models=MODELS,
        figure="positions",
        threshold=config["analysis"]["position_threshold"],
    log:
        "results/logs/fig_positions/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/fig_positions/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_masking:
    input:
        per_model(f"{RUN}/analysis/masking.tsv"),
    output:
        png=f"{SUMMARY}/figures/masking.png",
        pdf=f"{SUMMARY}/figures/masking.pdf",
    params:
        models=MODELS,
        figure="masking",
    log:
        "results/logs/fig_masking/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/fig_masking/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"


rule fig_recovery:
    input:
        f"{SUMMARY}/demo_recovery.tsv",
    output:
        png=f"{SUMMARY}/figures/recovery.png",
        pdf=f"{SUMMARY}/figures/recovery.pdf",
    params:
        models=MODELS,
        figure="recovery",
    log:
        "results/logs/fig_recovery/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/fig_recovery/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/figure.py"
