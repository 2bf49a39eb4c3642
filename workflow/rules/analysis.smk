# Stage 6 - analyses (tidy TSV tables), masking, and stage 8 - demo recovery.


rule analyses:
    """Important sets, BA/NWP IoU, spread, positions and centre of mass of the attributions and of each brain-free null."""
    input:
        scores=f"{ATTR}/attribution/scores.parquet",
        null_scores=f"{ATTR}/attribution/null_scores.parquet",
    output:
        **{
            f"{prefix}{name}": f"{ATTR}/analysis/{prefix}{name}.tsv"
            for prefix in ("", "null_")
            for name in ANALYSIS_TABLES
        },
    log:
        "results/logs/analyses/{dataset}_{model}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/analyses/{dataset}_{model}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    params:
        thresholds=config["analysis"]["thresholds"],
        position_threshold=config["analysis"]["position_threshold"],
        seed=config["seed"],
        important_words=config["analysis"]["important_words"],
    script:
        "../scripts/analyses.py"


rule linguistic:
    """Share of each annotation group's words important to BA only, both, NWP only, with enrichment; and for each null."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
        scores=f"{ATTR}/attribution/scores.parquet",
        null_scores=f"{ATTR}/attribution/null_scores.parquet",
    output:
        table=f"{ATTR}/analysis/linguistic.tsv",
        null_table=f"{ATTR}/analysis/null_linguistic.tsv",
    log:
        "results/logs/linguistic/{dataset}_{model}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/linguistic/{dataset}_{model}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        thresholds=config["analysis"]["linguistic_thresholds"],
    script:
        "../scripts/linguistic.py"


rule ceiling:
    """A subject's noise ceilings, the same for every model: of each repeated run, and from the other subjects."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
    output:
        CEILING,
    log:
        "results/logs/ceiling/{dataset}_{subject}.log",
    benchmark:
        "results/benchmarks/ceiling/{dataset}_{subject}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: encoding_threads()
    # the inter-subject ceiling is a kernel ridge CV over the ROI voxels: an encoding's cost
    resources:
        **encoding_gpu(),
        mem_mb=encoding_resource("mem_mb"),
        runtime=encoding_resource("runtime"),
    params:
        dataset_dir=ENCODING_PARAMS["dataset_dir"],
        roi=ENCODING_PARAMS["roi"],
        encoding={k: ENCODING_PARAMS[k] for k in ("alphas", "inner_folds", "backend")},
    script:
        "../scripts/ceiling.py"


rule noise_ceiling:
    """BA per subject and layer against the subject's noise ceilings (rule ceiling)."""
    input:
        unpack(
            lambda wc: {
                "ceilings": expand(CEILING, dataset=wc.dataset, subject=subjects(wc.dataset)),
                **encoding_files(wc),
            }
        ),
    output:
        f"{RUN}/analysis/noise_ceiling.tsv",
    log:
        "results/logs/noise_ceiling/{dataset}_{model}_ctx{context}.log",
    benchmark:
        "results/benchmarks/noise_ceiling/{dataset}_{model}_ctx{context}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    script:
        "../scripts/noise_ceiling.py"


rule stability:
    """Agreement of BA attributions between subjects and between repeats, with chance baselines and the nulls."""
    input:
        scores=f"{ATTR}/attribution/scores.parquet",
        repeat_scores=f"{ATTR}/attribution/repeat_scores.parquet",
        null_scores=f"{ATTR}/attribution/null_scores.parquet",
    output:
        stability=f"{ATTR}/analysis/stability.tsv",
        null_stability=f"{ATTR}/analysis/null_stability.tsv",
    log:
        "results/logs/stability/{dataset}_{model}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/stability/{dataset}_{model}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    params:
        threshold=config["analysis"]["stability_threshold"],
        seed=config["seed"],
    script:
        "../scripts/stability.py"


rule spread_tests:
    """BA vs NWP spread per model and layer group: the per-target block test beside the paper's t-test."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
        spread=per_model(f"{ATTR}/analysis/spread.tsv"),
    output:
        f"{ASUMMARY}/spread_tests.tsv",
    log:
        "results/logs/spread_tests/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/spread_tests/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        models=MODELS,
        alpha=config["analysis"]["fdr_alpha"],
        n_delays=N_DELAYS,
        inference=config["analysis"]["inference"],
        seed=config["seed"],
    script:
        "../scripts/spread_tests.py"


rule inference:
    """Every claim per target with dependence-aware intervals, against its baselines and nulls."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
        spread=f"{ATTR}/analysis/spread.tsv",
        center_of_mass=f"{ATTR}/analysis/center_of_mass.tsv",
        iou=f"{ATTR}/analysis/iou.tsv",
        stability=f"{ATTR}/analysis/stability.tsv",
        null_stability=f"{ATTR}/analysis/null_stability.tsv",
        null_spread=f"{ATTR}/analysis/null_spread.tsv",
        null_center_of_mass=f"{ATTR}/analysis/null_center_of_mass.tsv",
        null_iou=f"{ATTR}/analysis/null_iou.tsv",
        masking=f"{ATTR}/analysis/masking_targets.tsv",
        linguistic=lambda wc: (
            [f"{ATTR}/analysis/linguistic.tsv".format(**wc)]
            if "word_groups" in dataset_provides(config, wc.dataset)
            else []
        ),
        null_linguistic=lambda wc: (
            [f"{ATTR}/analysis/null_linguistic.tsv".format(**wc)]
            if "word_groups" in dataset_provides(config, wc.dataset)
            else []
        ),
    output:
        f"{ATTR}/analysis/inference.tsv",
    log:
        "results/logs/inference/{dataset}_{model}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/inference/{dataset}_{model}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        n_delays=N_DELAYS,
        inference=config["analysis"]["inference"],
        seed=config["seed"],
    script:
        "../scripts/inference.py"


rule masking:
    """Mask the top words of each task and head, with distance-matched, random and cross-task controls."""
    input:
        unpack(masking_inputs),
    output:
        table=f"{ATTR}/analysis/masking.tsv",
        targets=f"{ATTR}/analysis/masking_targets.tsv",
    log:
        "results/logs/masking/{dataset}_{model}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/masking/{dataset}_{model}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb(16000),
        runtime=runtime(480),
        gpu=model_gpus(),
        gres=model_gres(),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        model=lambda wc: model_spec(wc.model),
        settings=masking_settings(),
    script:
        "../scripts/masking.py"


rule faithfulness:
    """Mask exactly k words for each k: each task's top-k against distance-matched and random words."""
    input:
        unpack(masking_inputs),
    output:
        curves=f"{ATTR}/analysis/faithfulness.tsv",
        aopc=f"{ATTR}/analysis/aopc.tsv",
        targets=f"{ATTR}/analysis/faithfulness_targets.tsv",
    log:
        "results/logs/faithfulness/{dataset}_{model}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/faithfulness/{dataset}_{model}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb(16000),
        runtime=runtime(960),
        gpu=model_gpus(),
        gres=model_gres(),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        model=lambda wc: model_spec(wc.model),
        words=config["analysis"]["faithfulness_words"],
        settings=masking_settings(),
    script:
        "../scripts/faithfulness.py"


rule masking_table:
    """The masking results of all models as one table."""
    input:
        per_model(f"{ATTR}/analysis/masking.tsv"),
    output:
        report(
            f"{ASUMMARY}/masking_table.tsv",
            caption="../report/masking_table.rst",
            category="{dataset}, L = {context} words, {method}",
            subcategory="Paper figures",
            labels={"figure": "Masking table"},
        ),
    log:
        "results/logs/masking_table/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/masking_table/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(10),
    params:
        models=MODELS,
    script:
        "../scripts/masking_table.py"


rule demo_recovery:
    """Demo only: how much of the planted driver words each readout recovers."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
        scores=per_model(f"{ATTR}/attribution/scores.parquet"),
        null_scores=per_model(f"{ATTR}/attribution/null_scores.parquet"),
    output:
        f"{ASUMMARY}/demo_recovery.tsv",
    log:
        "results/logs/demo_recovery/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/demo_recovery/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        models=MODELS,
        threshold=config["analysis"]["recovery_threshold"],
        n_delays=N_DELAYS,
        inference=config["analysis"]["inference"],
        seed=config["seed"],
    script:
        "../scripts/demo_recovery.py"
