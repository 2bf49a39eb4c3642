# Stage 1 - dataset: every source ends in the common on-disk format.


rule dataset_demo:
    output:
        multiext("resources/{dataset}/", "dataset.json", "words.tsv", "trs.tsv", "responses.h5"),
        "resources/{dataset}/planted_weights.npz",
    params:
        demo=lambda wc: config["datasets"][wc.dataset]["demo"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(10),
    log:
        "results/logs/dataset_demo/{dataset}.log",
    benchmark:
        "results/benchmarks/dataset_demo/{dataset}.tsv"
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/dataset_demo.py"
