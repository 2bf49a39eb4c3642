# Input functions shared by the rules.
import json


def dataset_files(dataset):
    """The common-format files of a dataset (generated for the demo, present for local)."""
    folder = dataset_dir(config, dataset)
    return [f"{folder}/{name}" for name in ("dataset.json", "words.tsv", "trs.tsv", "responses.h5")]


def subjects(dataset):
    """Subjects of a dataset: from the demo settings or the dataset's own dataset.json."""
    spec = config["datasets"][dataset]
    if spec["source"] == "demo":
        return [f"sub-{s:02d}" for s in range(1, spec["demo"]["n_subjects"] + 1)]
    info = Path(spec["path"]) / "dataset.json"
    if not info.is_file():
        raise WorkflowError(
            f"datasets.{dataset}.path: {info} does not exist; the folder must hold a dataset "
            "in the common format (README, 'On-disk format')"
        )
    return json.loads(info.read_text())["subjects"]


def encoding_files(wildcards):
    """Every encoding result of a dataset x model x context, keyed (subject, layer)."""
    return {
        f"{s}|{layer}": f"{RUN}/encoding/layer{layer}/{s}.h5".format(**wildcards)
        for s in subjects(wildcards.dataset)
        for layer in config["models"][wildcards.model]["layers"]
    }



def model_gpus():
    """gpu resource of model jobs (0 when a GRES string is configured instead)."""
    return 0 if config["resources"]["model_gres"] else config["resources"]["model_gpus"]


def model_gres():
    return config["resources"]["model_gres"] or None


def mem_mb(base):
    """Memory that grows with each retry (attempt 1, 2, ...)."""
    return lambda wildcards, attempt: base * attempt


def runtime(minutes):
    """Runtime in minutes that grows with each retry."""
    return lambda wildcards, attempt: minutes * attempt


def per_model(path):
    """One path per configured model, other wildcards left open."""
    return expand(path, model=MODELS, allow_missing=True)


def all_outputs():
    out = []
    for d in DATASETS:
        for c in CONTEXTS:
            out += expand(f"{SUMMARY}/figures/{{fig}}.{{ext}}", dataset=d, context=c,
                          fig=FIGURES, ext=["png", "pdf"])
            out += expand(f"{SUMMARY}/spread_tests.tsv", dataset=d, context=c)
            if config["datasets"][d]["source"] == "demo":
                out += expand(f"{SUMMARY}/demo_recovery.tsv", dataset=d, context=c)
                out += expand(f"{SUMMARY}/figures/recovery.{{ext}}", dataset=d, context=c,
                              ext=["png", "pdf"])
    return out
