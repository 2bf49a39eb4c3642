# Stage 9, paper_check: which of the paper's findings a run reproduces (README "Checking the paper").


rule paper_check:
    """Verdict per paper finding for one dataset, L and method."""
    input:
        unpack(
            lambda wc: {
                "data": dataset_files(wc.dataset),
                "reference": f"{RESOURCES}/paper_reference.tsv",
                "spread_tests": f"{ASUMMARY}/spread_tests.tsv".format(**wc),
                **paper_tables(wc),
            }
        ),
    output:
        f"{ASUMMARY}/paper_check.tsv",
    log:
        "results/logs/paper_check/{dataset}_ctx{context}_{method}.log",
    benchmark:
        "results/benchmarks/paper_check/{dataset}_ctx{context}_{method}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000),
        runtime=runtime(30),
    params:
        dataset_dir=lambda wc: dataset_dir(config, wc.dataset),
        source=lambda wc: config["datasets"][wc.dataset]["source"],
        models={m: config["models"][m].get("id", m) for m in MODELS},
        n_delays=N_DELAYS,
        settings={
            "block_spans": config["analysis"]["inference"]["block_spans"],
            "n_resamples": config["analysis"]["inference"]["n_resamples"],
            "fdr_alpha": config["analysis"]["fdr_alpha"],
        },
        seed=config["seed"],
    script:
        "../scripts/paper_check.py"


rule paper_check_summary:
    """All verdicts as one table and figure."""
    input:
        expand(f"{ASUMMARY}/paper_check.tsv", dataset=DATASETS, context=CONTEXTS, method=METHODS),
    output:
        table=report(
            "results/paper_check.tsv",
            caption="../report/paper_check_table.rst",
            category="Paper check",
            labels={"figure": "Verdicts (table)"},
        ),
        png=report(
            "results/figures/paper_check.png",
            caption="../report/paper_check.rst",
            category="Paper check",
            labels={"figure": "Verdicts"},
        ),
        pdf="results/figures/paper_check.pdf",
    log:
        "results/logs/paper_check_summary/all.log",
    benchmark:
        "results/benchmarks/paper_check_summary/all.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(10),
    script:
        "../scripts/paper_check_summary.py"
