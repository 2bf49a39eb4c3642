# Stage 5 - attribution: BA (selected layers x subjects) and NWP word scores per target TR.


rule attribution:
    """BA and NWP attributions (GXI or IG) per target TR, summed per word; repeats and nulls."""
    input:
        unpack(
            lambda wc: {
                "data": dataset_files(wc.dataset),
                "model": model_inputs(wc.model),
                "features": features_file(wc),
                "layers": f"{RUN}/layers.tsv".format(**wc),
                **encoding_files(wc),
            }
        ),
    output:
        scores=f"{ATTR}/attribution/scores.parquet",
        targets=f"{ATTR}/attribution/targets.tsv",
        repeat_scores=f"{ATTR}/attribution/repeat_scores.parquet",
        null_scores=f"{ATTR}/attribution/null_scores.parquet",
    log:
        "results/logs/attribution/{dataset}_{model}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/attribution/{dataset}_{model}_ctx{context}_{method}.tsv"
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
        attribution=config["attribution"],
        seed=config["seed"],
        device=config["device"],
        batch_tokens=config["features"]["batch_tokens"],
    script:
        "../scripts/attribution.py"
