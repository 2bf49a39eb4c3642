# Stage 6 - analyses (tidy TSV tables), masking, and stage 8 - demo recovery.


rule analyses:
    input:
        f"{RUN}/attribution/scores.parquet",
    output:
        important_sets=f"{RUN}/analysis/important_sets.tsv",
        iou=f"{RUN}/analysis/iou.tsv",
        spread=f"{RUN}/analysis/spread.tsv",
        positions=f"{RUN}/analysis/positions.tsv",
        center_of_mass=f"{RUN}/analysis/center_of_mass.tsv",
    params:
        thresholds=config["analysis"]["thresholds"],
        position_threshold=config["analysis"]["position_threshold"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    log:
        "results/logs/analyses/{dataset}_{model}_ctx{context}.log",
    benchmark:
        "results/benchmarks/analyses/{dataset}_{model}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/analyses.py"


rule spread_tests:
    input:
        per_model(f"{RUN}/analysis/spread.tsv"),
    output:
        f"{SUMMARY}/spread_tests.tsv",
    params:
        models=MODELS,
        alpha=config["analysis"]["fdr_alpha"],
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    log:
        "results/logs/spread_tests/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/spread_tests/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/spread_tests.py"


rule masking:
    input:
        unpack(
            lambda wc: {
                "data": dataset_files(wc.dataset),
                "model": model_inputs(wc.model),
                "features": f"{RUN}/features.h5".format(**wc),
                "scores": f"{RUN}/attribution/scores.parquet".format(**wc),
                "targets": f"{RUN}/attribution/targets.tsv".format(**wc),
                **encoding_files(wc),
            }
        ),
    output:
        f"{RUN}/analysis/masking.tsv",
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        model=lambda wc: model_spec(wc.model),
        mask_fraction=config["analysis"]["mask_fraction"],
        seed=config["seed"],
        device=config["device"],
    threads: 2
    resources:
        mem_mb=mem_mb(16000),
        runtime=runtime(480),
        gpu=model_gpus(),
        gres=model_gres(),
    log:
        "results/logs/masking/{dataset}_{model}_ctx{context}.log",
    benchmark:
        "results/benchmarks/masking/{dataset}_{model}_ctx{context}.tsv"
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/masking.py"


rule demo_recovery:
    input:
        data=lambda wc: dataset_files(wc.dataset),
        scores=per_model(f"{RUN}/attribution/scores.parquet"),
    output:
        f"{SUMMARY}/demo_recovery.tsv",
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        models=MODELS,
        threshold=config["analysis"]["recovery_threshold"],
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    log:
        "results/logs/demo_recovery/{dataset}_ctx{context}.log",
    benchmark:
        "results/benchmarks/demo_recovery/{dataset}_ctx{context}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/demo_recovery.py"
