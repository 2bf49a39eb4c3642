"""Dataset sources: what to download for each, and how to turn it into the common format.

Each downloadable source (``hp_cmu``, ``hp_toneva``, ``mrh``, ``lebel``) provides

- ``DEFAULT_SUBJECTS`` — every subject of the source;
- ``remote_files(spec) -> list[RemoteFile]`` — the files one configured dataset needs;
- ``prepare(spec, download_dir, out_dir)`` — read the downloads, write the common format.

``spec`` is the dataset's config entry with defaults filled in. A ``base_url`` in the spec
replaces the host of every file: the file is then fetched from ``<base_url>/<path>``, where
``path`` is its place in the download folder (a mirror keeps that layout).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from brainattr.dataset import DATASET_JSON, DatasetError
from brainattr.download import CorruptDownload, RecordedManifest, RemoteFile, check_signature, fetch

DOWNLOADED = ("hp_cmu", "hp_toneva", "mrh", "lebel")


def source_module(source: str) -> ModuleType:
    """The module implementing a downloadable source."""
    from brainattr.sources import hp, mrh

    modules = {"hp_cmu": hp.CMU, "hp_toneva": hp.TONEVA, "mrh": mrh.DENIZ, "lebel": mrh.LEBEL}
    if source not in modules:
        raise ValueError(f"source '{source}' is not downloadable; downloadable: {DOWNLOADED}")
    return modules[source]


def default_subjects(source: str) -> list[str]:
    return list(source_module(source).DEFAULT_SUBJECTS)


def remote_files(spec: dict) -> list[RemoteFile]:
    """Every file the configured dataset needs, in download order."""
    return source_module(spec["source"]).remote_files(spec)


def remote_file(spec: dict, path: str) -> RemoteFile:
    """The RemoteFile of one relative path of a dataset."""
    for remote in remote_files(spec):
        if remote.path == path:
            return remote
    raise ValueError(f"{path} is not a file of source '{spec['source']}'")


def download_file(spec: dict, path: str, download_dir: str | Path) -> Path:
    """Fetch and verify one file of a dataset into its download folder."""
    return fetch(remote_file(spec, path), download_dir)


# each source's word -> TR convention under tr_assignment: auto (brainattr.dataset.TR_ASSIGNMENTS):
# HP follows the Toneva lab's HP code, whose data and ROIs the paper uses
DEFAULT_TR_ASSIGNMENT = {"hp_cmu": "toneva", "hp_toneva": "toneva"}


def tr_assignment(spec: dict) -> str:
    """The word -> TR convention of a dataset's config entry (``tr_assignment``, ``auto`` =
    the source's default, "window" unless :data:`DEFAULT_TR_ASSIGNMENT` says otherwise)."""
    value = spec.get("tr_assignment", "auto")
    return DEFAULT_TR_ASSIGNMENT.get(spec["source"], "window") if value == "auto" else value


def prepare(spec: dict, download_dir: str | Path, out_dir: str | Path, name: str) -> None:
    """Write the common-format dataset from the downloaded files (checked first), with the
    word -> TR convention of :func:`tr_assignment` in its ``dataset.json``."""
    check_present(spec, download_dir)
    out_dir = Path(out_dir)
    source_module(spec["source"]).prepare(spec, Path(download_dir), out_dir, name)
    info_path = out_dir / DATASET_JSON
    info = json.loads(info_path.read_text())
    info["tr_assignment"] = tr_assignment(spec)
    tmp = info_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(info_path)


def check_present(spec: dict, download_dir: str | Path) -> None:
    """Every file is there, carries its signature and has its manifest size.

    Files placed by hand (copied from elsewhere) skip the download rule: this is their check.
    Sizes come from the committed manifest or the record of the first verified download.
    """
    download_dir = Path(download_dir)
    recorded = RecordedManifest(download_dir)
    for remote in remote_files(spec):
        path = download_dir / remote.path
        if not path.is_file():
            raise DatasetError(f"{path} is missing; fetch it from {remote.url} (rule download)")
        try:
            check_signature(path, remote.kind)
        except CorruptDownload as err:
            raise DatasetError(f"{err}; delete it and rerun to download it again") from err
        size = remote.size or (recorded.get(remote.path) or (None,))[0]
        if size is not None and path.stat().st_size != size:
            raise DatasetError(
                f"{path} has {path.stat().st_size} bytes, its manifest says {size}; "
                "delete it and rerun to download it again"
            )
