"""Helpers shared by the workflow's thin scripts and the Snakefile (the entry points).

Nothing inside the package imports this module: the global effects a job needs (its log,
threads, excepthook, offline hub, plotting backend) are set here, by the scripts, at start.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path


def dataset_dir(config: dict, dataset: str) -> str:
    """Common-format folder of a configured dataset: its path (local) or <data_dir>/<name>."""
    spec = config["datasets"][dataset]
    return spec["path"] if spec["source"] == "local" else f"{config['data_dir']}/{dataset}"


def download_dir(config: dict, dataset: str) -> str:
    """Where a downloaded source's files are fetched to."""
    return f"{config['data_dir']}/downloads/{dataset}"


# read by OpenMP (torch's intra-op pool), OpenBLAS and MKL (numpy) when they load
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def setup_script(
    log_path: str | Path, threads: int = 1, model_job: bool = False, plots: bool = False
) -> None:
    """Set a job's global state: logging and stderr to the rule's log file, torch's threads,
    errors without tracebacks where they explain themselves; for a ``model_job`` the Hugging
    Face hub offline (:func:`hub_offline`); for ``plots`` matplotlib's file-only backend."""
    # The job's threads reach BLAS and torch through the environment, read at their import;
    # importing torch here would cost every analysis and figure job seconds for nothing.
    for var in THREAD_VARIABLES:
        os.environ[var] = str(max(1, int(threads)))
    if model_job:
        hub_offline()
    if plots:
        import matplotlib

        matplotlib.use("Agg")
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(log_path, "a", buffering=1)
    sys.stderr = stream
    logging.basicConfig(
        level=logging.INFO,
        stream=stream,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.excepthook = _report
    torch = sys.modules.get("torch")  # loaded already: its pool is set; else the variables do
    if torch is not None:
        torch.set_num_threads(max(1, int(threads)))


def hub_offline() -> None:
    """Model jobs read the snapshot the ``download_model`` rule fetched, never the network.

    huggingface_hub reads ``HF_HUB_OFFLINE`` once, when it is imported: set it before, and on
    the already-imported constants too (a job that imported transformers earlier)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def _report(kind, error, tb) -> None:
    """Errors that explain themselves (bad input, unreachable data) are logged without a
    traceback; anything else keeps its traceback."""
    from brainattr.errors import EXPLAINED  # no third-party import: every env has it

    if isinstance(error, EXPLAINED):
        logging.getLogger("brainattr").error("%s: %s", kind.__name__, error)
    else:
        sys.__excepthook__(kind, error, tb)


def encoding_inputs(named_input) -> dict[tuple[str, int], str]:
    """{(subject, layer): path} from a rule input whose encoding files are named 'subject|layer'."""
    out = {}
    for key, path in named_input.items():
        if "|" in key:
            subject, layer = key.split("|")
            out[(subject, int(layer))] = path
    return out


def dataset_provides(config: dict, dataset: str) -> set[str]:
    """Optional parts of a dataset that analyses need: ``word_groups`` (linguistic groups),
    ``repeats`` (stability across repeats), ``voxel_coords`` (brain maps), ``ceiling`` (a noise
    ceiling: repeats, or two or more subjects for the inter-subject ceiling).

    Known from the source for generated and downloaded datasets; read from the folder for a
    local one (nothing when the folder does not exist yet).
    """
    out = _provides(config["datasets"][dataset])
    return out | ({"ceiling"} if out & {"repeats", "subjects"} else set())


def _provides(spec: dict) -> set[str]:
    """:func:`dataset_provides` before ``ceiling``; ``subjects``: two or more subjects."""
    source = spec["source"]
    if source == "demo":
        demo = spec["demo"]
        out = {"word_groups", "voxel_coords"} | ({"repeats"} if demo["n_repeats"] else set())
        return out | ({"subjects"} if demo["n_subjects"] >= 2 else set())
    several = {"subjects"} if len(spec.get("subjects", [])) >= 2 else set()
    if source in ("mrh", "lebel"):
        return {"repeats"} | several
    if source == "hp_cmu":
        return {"word_groups", "voxel_coords"} | several
    if source == "hp_toneva":
        return {"word_groups"} | several
    folder = Path(spec["path"])
    from brainattr.dataset import RESPONSES_H5, WORD_GROUPS_TSV

    out = {"word_groups"} if (folder / WORD_GROUPS_TSV).is_file() else set()
    if (folder / RESPONSES_H5).is_file():
        import h5py

        with h5py.File(folder / RESPONSES_H5, "r") as f:
            out |= {"subjects"} if len(f) >= 2 else set()
            for g in f.values():
                out |= {"repeats"} if "repeats" in g else set()
                out |= {"voxel_coords"} if "voxel_ijk" in g and "affine" in g.attrs else set()
    return out
