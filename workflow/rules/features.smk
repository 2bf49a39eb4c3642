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
        model=names_regex(OWN_FEATURES),
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


rule attribution_features:
    """NWP attribution of each word's last k words per layer (logit lens), pooled per TR."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
        model=lambda wc: model_inputs(wc.model),
    output:
        f"{RUN}/nwp_attribution/features.h5",
    log:
        "results/logs/attribution_features/{dataset}_{model}_ctx{context}.log",
    benchmark:
        "results/benchmarks/attribution_features/{dataset}_{model}_ctx{context}.tsv"
    wildcard_constraints:
        model=names_regex(OWN_FEATURES),
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=mem_mb(16000),
        runtime=runtime(240),
        gpu=model_gpus(),
        gres=model_gres(),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        model=lambda wc: model_spec(wc.model),
        attribution_words=config["features"]["attribution_words"],
        batch_tokens=config["features"]["batch_tokens"],
        device=config["device"],
    script:
        "../scripts/attribution_features.py"
