"""Helpers shared by the workflow's thin scripts and the Snakefile."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def dataset_dir(config: dict, dataset: str) -> str:
    """Folder of a configured dataset (demo datasets live in resources/<name>/)."""
    spec = config["datasets"][dataset]
    return f"resources/{dataset}" if spec["source"] == "demo" else spec["path"]


def setup_script(log_path: str | Path, threads: int = 1) -> None:
    """Send logging and stderr to the rule's log file and bound torch's threads."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(log_path, "a", buffering=1)
    sys.stderr = stream
    logging.basicConfig(
        level=logging.INFO,
        stream=stream,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def encoding_inputs(named_input) -> dict[tuple[str, int], str]:
    """{(subject, layer): path} from a rule input whose encoding files are named 'subject|layer'."""
    out = {}
    for key, path in named_input.items():
        if "|" in key:
            subject, layer = key.split("|")
            out[(subject, int(layer))] = path
    return out
