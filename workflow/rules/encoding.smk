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
    threads: encoding_threads()
    resources:
        **encoding_gpu(),
        mem_mb=encoding_resource("mem_mb"),
        runtime=encoding_resource("runtime"),
    params:
        **ENCODING_PARAMS,
        targets_batch=config["encoding"]["targets_batch"],
        alphas_batch=config["encoding"]["alphas_batch"],
        dtype=config["encoding"]["dtype"],
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


use rule encoding as encoding_of_kind with:
    input:
        data=lambda wc: dataset_files(wc.dataset),
        features=f"{KIND_RUN}/features.h5",
    output:
        f"{KIND_RUN}/encoding/layer{{layer}}/{{subject}}.h5",
    log:
        "results/logs/encoding_of_kind/{dataset}_{model}_ctx{context}_{kind}_layer{layer}_{subject}.log",
    benchmark:
        "results/benchmarks/encoding_of_kind/{dataset}_{model}_ctx{context}_{kind}_layer{layer}_{subject}.tsv"
    wildcard_constraints:
        kind=names_regex(KINDS),
        model=names_regex(OWN_FEATURES),
    params:
        # the other params are encoding's (use rule merges keyword params): a kind is no control
        model={},
        seed=0,


use rule layer_selection as layer_selection_of_kind with:
    input:
        unpack(
            lambda wc: {
                "features": f"{KIND_RUN}/features.h5".format(**wc),
                **encoding_files(wc, KIND_RUN),
            }
        ),
    output:
        f"{KIND_RUN}/layers.tsv",
    log:
        "results/logs/layer_selection_of_kind/{dataset}_{model}_ctx{context}_{kind}.log",
    benchmark:
        "results/benchmarks/layer_selection_of_kind/{dataset}_{model}_ctx{context}_{kind}.tsv"
    wildcard_constraints:
        kind=names_regex(KINDS),
        model=names_regex(OWN_FEATURES),


rule partition:
    """Unique and shared variance of the activations and a feature kind (banded ridge)."""
    input:
        data=lambda wc: dataset_files(wc.dataset),
        activations=f"{RUN}/features.h5",
        attributions=f"{KIND_RUN}/features.h5",
    output:
        f"{KIND_RUN}/partition/layer{{layer}}/{{subject}}.h5",
    log:
        "results/logs/partition/{dataset}_{model}_ctx{context}_{kind}_layer{layer}_{subject}.log",
    benchmark:
        "results/benchmarks/partition/{dataset}_{model}_ctx{context}_{kind}_layer{layer}_{subject}.tsv"
    wildcard_constraints:
        kind=names_regex(KINDS),
        model=names_regex(OWN_FEATURES),
    conda:
        "../../envs/model.yaml"
    threads: encoding_threads()
    resources:
        **encoding_gpu(),
        mem_mb=mem_mb(8000),
        runtime=runtime(120),
    params:
        **ENCODING_PARAMS,
        n_iter=config["encoding"]["banded_iterations"],
        seed=config["seed"],
    script:
        "../scripts/partition.py"


rule unique_variance:
    """The ROI means of every subject x layer's variance partition."""
    input:
        unpack(lambda wc: encoding_files(wc, KIND_RUN, "partition")),
    output:
        f"{KIND_RUN}/unique_variance.tsv",
    log:
        "results/logs/unique_variance/{dataset}_{model}_ctx{context}_{kind}.log",
    benchmark:
        "results/benchmarks/unique_variance/{dataset}_{model}_ctx{context}_{kind}.tsv"
    wildcard_constraints:
        kind=names_regex(KINDS),
        model=names_regex(OWN_FEATURES),
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime(10),
    script:
        "../scripts/unique_variance.py"
