# Stage 2 - features: hidden states of each TR's words after L context words, all layers at once.


rule features:
    """Hidden states of every layer, pooled per TR, from windows of L context words."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
        model=lambda wc: model_inputs(wc.model),
    output:
        f"{RUN}/features.h5",
    log:
        "results/logs/features/{dataset}_{model}_ctx{context}.log",
    benchmark:
        "results/benchmarks/features/{dataset}_{model}_ctx{context}.tsv"
    wildcard_constraints:
        # a control entry reads its model's features (features_file)
        model=names_regex([m for m in MODELS if "control_of" not in config["models"][m]]),
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb(8000),
        runtime=runtime(120),
        gpu=model_gpus(),
        gres=model_gres(),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        model=lambda wc: model_spec(wc.model),
        batch_tokens=config["features"]["batch_tokens"],
        mode=config["features"]["mode"],
        stride_words=config["features"]["stride_words"],
        device=config["device"],
    script:
        "../scripts/features.py"
