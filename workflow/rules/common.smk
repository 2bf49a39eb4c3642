# Input functions shared by the rules.
import json
import re


def dataset_files(dataset):
    """The common-format files of a dataset (generated, prepared from downloads, or local)."""
    folder = dataset_dir(config, dataset)
    return [f"{folder}/{name}" for name in COMMON_FILES]


def datasets_of(*sources):
    return [d for d in DATASETS if config["datasets"][d]["source"] in sources]


def names_regex(names):
    """A wildcard constraint matching exactly these names (nothing when empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


def downloaded_files(dataset):
    """Every file a downloaded source needs, in its download folder."""
    folder = download_dir(config, dataset)
    return [f"{folder}/{r.path}" for r in remote_files(config["datasets"][dataset])]


def subjects(dataset):
    """Subjects of a dataset: the demo settings, the configured download, or dataset.json."""
    spec = config["datasets"][dataset]
    if spec["source"] == "demo":
        return [f"sub-{s:02d}" for s in range(1, spec["demo"]["n_subjects"] + 1)]
    if "subjects" in spec:
        return spec["subjects"]
    info = Path(spec["path"]) / COMMON_FILES[0]
    if not info.is_file():
        raise WorkflowError(
            f"datasets.{dataset}.path: {info} does not exist; the folder must hold a dataset "
            "in the common format (README, 'On-disk format')"
        )
    return json.loads(info.read_text())["subjects"]


def encoding_files(wildcards, folder=RUN, stage="encoding"):
    """Every encoding result of a dataset x model x context, keyed (subject, layer): of the
    activations, or of a feature kind (folder KIND_RUN), or its partition (stage)."""
    return {
        f"{s}|{layer}": f"{folder}/{stage}/layer{layer}/{s}.h5".format(**wildcards)
        for s in subjects(wildcards.dataset)
        for layer in config["models"][wildcards.model]["layers"]
    }


# what every encoding of a layer's features takes (rules encoding, encoding_of_kind, partition)
ENCODING_PARAMS = {
    "dataset_dir": lambda wc: dataset_dir(config, wc.dataset),
    "roi": lambda wc: config["datasets"][wc.dataset]["roi"],
    "n_delays": N_DELAYS,
    "alphas": config["encoding"]["alphas"],
    "inner_folds": config["encoding"]["inner_folds"],
    "backend": config["encoding"]["backend"],
}


def lm_of(model):
    """The entry whose language model and features a model uses: itself, or the model that a
    control entry (control_of) controls."""
    return config["models"][model].get("control_of", model)


def features_file(wildcards):
    """The features a run's encodings read: its model's, or its controlled model's."""
    values = {k: wildcards[k] for k in wildcards.keys()}
    return f"{RUN}/features.h5".format(**{**values, "model": lm_of(wildcards.model)})


def control_spec(model):
    """The control keys of a model entry (brainattr.controls; empty for a plain model)."""
    spec = config["models"][model]
    return {k: spec[k] for k in ("control_of", "pca_components", "remove") if k in spec}


def masking_inputs(wildcards):
    """What the masking and faithfulness stages read: the attribution, its model, features and
    encodings."""
    return {
        "data": dataset_files(wildcards.dataset),
        "model": model_inputs(wildcards.model),
        "features": features_file(wildcards),
        "scores": f"{ATTR}/attribution/scores.parquet".format(**wildcards),
        "targets": f"{ATTR}/attribution/targets.tsv".format(**wildcards),
        "null_scores": f"{ATTR}/attribution/null_scores.parquet".format(**wildcards),
        **encoding_files(wildcards),
    }


def masking_settings():
    """The masking and faithfulness stages' settings (brainattr.masking.run_masking)."""
    return {
        "mask_fraction": config["analysis"]["mask_fraction"],
        "n_seeds": config["analysis"]["mask_seeds"],
        "seed": config["seed"],
        "device": config["device"],
        "batch_tokens": config["features"]["batch_tokens"],
        "block_spans": config["analysis"]["inference"]["block_spans"],
        "n_resamples": config["analysis"]["inference"]["n_resamples"],
        "null_shift_trs": config["attribution"]["null_shift_trs"],
    }


def model_inputs(model):
    """Files a model job needs before it starts: the downloaded snapshot of a hub model, the
    unpacked weights of a GGUF model."""
    spec = config["models"][model]
    if spec["source"] == "huggingface":
        return [f"{DATA_DIR}/models/{lm_of(model)}/snapshot.json"]
    if "gguf_file" in spec:
        return [f"{DATA_DIR}/models/{lm_of(model)}/unpacked.json"]
    return []


def model_spec(model):
    """A model's config entry, pointing hub and GGUF models at their snapshot; an untrained
    twin (init: random) and a paper shape get the config's seed for their initialisation."""
    spec = config["models"][model]
    random_init = spec.get("init") == "random" or spec["source"] == "shape"
    seed = {"init_seed": config["seed"]} if random_init else {}
    return {**spec, **dict(zip(["snapshot"], model_inputs(model))), **seed}


def model_gpus(n=None):
    """gpu resource of a GPU job: n (default: model jobs' resources.model_gpus), 0 when a GRES
    string is configured instead."""
    n = config["resources"]["model_gpus"] if n is None else n
    return 0 if config["resources"]["model_gres"] else n


def model_gres():
    return config["resources"]["model_gres"] or None


def encoding_gpu():
    """gpu and gres resources of the ridge jobs (encoding, ceiling, partition): none, or what
    a model job asks (resources.encoding_gpus)."""
    if not config["resources"]["encoding_gpus"]:
        return {}
    return {"gpu": model_gpus(1), "gres": model_gres()}


def encoding_threads():
    """1; with GPU encodings every core a job may take. Snakemake sums the GPUs of a group
    job's parallel jobs and gives them no separate devices: taking every core, a group job
    under the SLURM profile runs its encodings one at a time on its one GPU."""
    return max(1, workflow.cores or 1) if config["resources"]["encoding_gpus"] else 1


def mem_mb(base):
    """Memory that grows with each retry (attempt 1, 2, ...)."""
    return lambda wildcards, attempt: base * attempt


def runtime(minutes):
    """Runtime in minutes that grows with each retry."""
    return lambda wildcards, attempt: minutes * attempt


def encoding_resource(key):
    """An encoding job's mem_mb or runtime: its dataset's ``encoding_resources`` (an MRH job
    needs several times HP's), growing with each retry."""
    return lambda wc, attempt: config["datasets"][wc.dataset]["encoding_resources"][key] * attempt


def per_model(path, models=None):
    """One path per configured model (or per one of ``models``), other wildcards left open."""
    return expand(path, model=MODELS if models is None else models, allow_missing=True)


def figures_of(dataset):
    """(figures that depend on the attribution method, figures that do not) of a dataset:
    the registered ones its optional parts allow, and its brain maps."""
    has = dataset_provides(config, dataset)
    for part, key in (("controls", "control_of"), ("checkpoints", "checkpoint_of")):
        has |= {part} if any(key in config["models"][m] for m in MODELS) else set()
    has |= {"faithfulness"} if config["analysis"]["faithfulness_words"] else set()
    has |= {"feature_kinds"} if "nwp_attribution" in KINDS else set()
    source = config["datasets"][dataset]["source"]
    shared = figures_for(False, has, source)
    shared += [f"brain_map_{m}" for m in MODELS] if "voxel_coords" in has else []
    return figures_for(True, has, source), shared


# results folder of each registered figure input level (brainattr.figure_registry.Input)
# files shipped with the workflow resolve against it, not the working directory (--directory)
RESOURCES = str(BASEDIR / "resources")
LEVELS = {"run": RUN, "attr": ATTR, "summary": SUMMARY, "asummary": ASUMMARY, "resource": RESOURCES}


def figure_models(spec):
    """The models a registered figure draws: all, or those with features of their own."""
    return OWN_FEATURES if spec.own_features else MODELS


def figure_inputs(spec):
    """The named inputs of a registered figure: a list per model, or one path."""
    return {
        role: (
            per_model(f"{LEVELS[i.level]}/{i.path}", figure_models(spec))
            if i.per_model
            else f"{LEVELS[i.level]}/{i.path}"
        )
        for role, i in spec.inputs.items()
    }


def all_outputs():
    out = []
    for d in DATASETS:
        per_method, shared = figures_of(d)
        out += expand(
            f"{ASUMMARY}/figures/{{fig}}.{{ext}}",
            dataset=d,
            context=CONTEXTS,
            method=METHODS,
            fig=per_method,
            ext=["png", "pdf"],
        )
        out += expand(
            f"{SUMMARY}/figures/{{fig}}.{{ext}}",
            dataset=d,
            context=CONTEXTS,
            fig=shared,
            ext=["png", "pdf"],
        )
        out += expand(f"{ASUMMARY}/masking_table.tsv", dataset=d, context=CONTEXTS, method=METHODS)
        out += expand(
            f"{ATTR}/analysis/inference.tsv",
            dataset=d,
            model=MODELS,
            context=CONTEXTS,
            method=METHODS,
        )
        if len(CONTEXTS) > 1:
            out += expand(
                "results/{dataset}/{method}/figures/context_control.{ext}",
                dataset=d,
                method=METHODS,
                ext=["png", "pdf"],
            )
    out += ["results/paper_check.tsv", "results/figures/paper_check.png"]
    return out


def paper_tables(wc):
    """Each table paper_check reads, one path per model (linguistic where the dataset has groups)."""
    names = ["iou", "null_iou", "spread", "null_spread", "positions", "null_positions"]
    if "word_groups" in dataset_provides(config, wc.dataset):
        names += ["linguistic", "null_linguistic"]
    out = {n: expand(f"{ATTR}/analysis/{n}.tsv", model=MODELS, **wc) for n in names}
    out["masking"] = expand(f"{ATTR}/analysis/masking.tsv", model=MODELS, **wc)
    return out
