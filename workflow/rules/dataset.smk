# Stage 1 - dataset: every source ends in the common on-disk format in <data_dir>/<dataset>/.


rule dataset_demo:
    """Generate the embedded demo dataset (simulated BOLD with planted driver words)."""
    output:
        multiext(f"{DATA_DIR}/{{dataset}}/", *COMMON_FILES),
        f"{DATA_DIR}/{{dataset}}/planted_weights.npz",
    log:
        "results/logs/dataset_demo/{dataset}.log",
    benchmark:
        "results/benchmarks/dataset_demo/{dataset}.tsv"
    wildcard_constraints:
        dataset=names_regex(datasets_of("demo")),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(10),
    params:
        demo=lambda wc: config["datasets"][wc.dataset]["demo"],
        seed=config["seed"],
    script:
        "../scripts/dataset_demo.py"


# One job per file: a finished file is never fetched again, a failed one alone is retried.
rule download:
    """Fetch and verify one file of a real dataset."""
    output:
        f"{DATA_DIR}/downloads/{{dataset}}/{{path}}",
    log:
        "results/logs/download/{dataset}/{path}.log",
    benchmark:
        "results/benchmarks/download/{dataset}/{path}.tsv"
    wildcard_constraints:
        dataset=names_regex(datasets_of(*DOWNLOADED)),
        path=r"[^.].*",
    conda:
        "../../envs/analysis.yaml"
    resources:
        runtime=runtime(240),
    params:
        spec=lambda wc: config["datasets"][wc.dataset],
        folder=lambda wc: download_dir(config, wc.dataset),
    script:
        "../scripts/download.py"


rule prepare_dataset:
    """Convert a downloaded dataset to the common on-disk format."""
    input:
        lambda wc: downloaded_files(wc.dataset),
    output:
        multiext(f"{DATA_DIR}/{{dataset}}/", *COMMON_FILES),
    log:
        "results/logs/prepare_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset=names_regex(datasets_of(*DOWNLOADED)),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(32000),
        runtime=runtime(120),
    params:
        spec=lambda wc: config["datasets"][wc.dataset],
        folder=lambda wc: download_dir(config, wc.dataset),
    script:
        "../scripts/prepare_dataset.py"
