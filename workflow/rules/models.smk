# Hugging Face models are downloaded once, on the submitting node; model jobs then read the
# snapshot with HF_HUB_OFFLINE=1, so compute nodes need no internet.


localrules:
    download,
    download_model,


rule download_model:
    """Download a Hugging Face model once and record its commit."""
    output:
        f"{DATA_DIR}/models/{{model}}/snapshot.json",
    log:
        "results/logs/download_model/{model}.log",
    benchmark:
        "results/benchmarks/download_model/{model}.tsv"
    conda:
        "../../envs/model.yaml"
    params:
        spec=lambda wc: config["models"][wc.model],
        cache_dir=f"{DATA_DIR}/models/huggingface",
    script:
        "../scripts/download_model.py"
