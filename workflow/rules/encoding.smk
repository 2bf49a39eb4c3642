# Stage 3 - encoding (ridge per subject x layer, CV by run/story); stage 4 - layer selection.


rule encoding:
    """Cross-validated ridge from one layer's delayed features to one subject's voxels (BA)."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
        features=features_file,
    output:
        f"{RUN}/encoding/layer{{layer}}/{{subject}}.h5",
    log:
        "results/logs/encoding/{dataset}_{model}_ctx{context}_layer{layer}_{subject}.log",
    benchmark:
        "results/benchmarks/encoding/{dataset}_{model}_ctx{context}_layer{layer}_{subject}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime(60),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        roi=lambda wc: config["datasets"][wc.dataset]["roi"],
        n_delays=N_DELAYS,
        alphas=config["encoding"]["alphas"],
        inner_folds=config["encoding"]["inner_folds"],
        backend=config["encoding"]["backend"],
        targets_batch=config["encoding"]["targets_batch"],
        alphas_batch=config["encoding"]["alphas_batch"],
        model=lambda wc: control_spec(wc.model),
        # only a removal control draws (its null): other encodings keep their params
        seed=lambda wc: config["seed"] if "remove" in config["models"][wc.model] else 0,
    script:
        "../scripts/encoding.py"


rule layer_selection:
    """Mean BA per layer and the best layer of each third (early, middle, late)."""
    input:
        unpack(lambda wc: {"features": features_file(wc), **encoding_files(wc)}),
    output:
        f"{RUN}/layers.tsv",
    log:
        "results/logs/layer_selection/{dataset}_{model}_ctx{context}.log",
    benchmark:
        "results/benchmarks/layer_selection/{dataset}_{model}_ctx{context}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime(10),
    script:
        "../scripts/layer_selection.py"
