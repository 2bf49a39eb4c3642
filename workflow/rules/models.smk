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


rule unpack_gguf:
    """De-quantise a GGUF model (the embedded demo model) once into safetensors: transformers
    de-quantises a GGUF at every load, about 40 s per model job on 2 cores."""
    output:
        f"{DATA_DIR}/models/{{model}}/unpacked.json",
    log:
        "results/logs/unpack_gguf/{model}.log",
    benchmark:
        "results/benchmarks/unpack_gguf/{model}.tsv"
    conda:
        "../../envs/model.yaml"
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    params:
        spec=lambda wc: config["models"][wc.model],
        folder=lambda wc: f"{DATA_DIR}/models/{wc.model}/weights",
    script:
        "../scripts/unpack_gguf.py"
