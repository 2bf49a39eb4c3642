"""Moth Radio Hour stories: reading (Deniz et al. 2019, GIN) and listening (LeBel et al. 2023).

``mrh`` (the paper's second dataset)
    9 subjects read 10 training stories and a validation story shown twice. Responses from
    GIN (``responses/subjectSS_reading_fmri_data_{trn,val}.hdf``; some subjects store a
    story as (1, T, V): squeezed), ROI masks from ``mappers/subjectSS_mappers.hdf``
    (``roi_mask_<ROI>``, or bare ROI names in older files), word timings from the stories'
    TextGrids (the same files as ds003020's ``derivative/TextGrids``, fetched from OpenNeuro
    with their md5). The validation story's two repeats are averaged for BA and kept apart
    for a noise ceiling. TR = 2.0045 s.
``lebel`` (optional third dataset, OpenNeuro ds003020, CC0)
    Listening to the same stories (by default the 11 stories of ``mrh``, so reading and
    listening can be compared), ``derivative/preprocessed_data/UTSxx/<story>.hf5`` with
    ``data`` already trimmed and, for the test story, ``individual_repeats``. TR = 2.0 s.

Both: one run (cross-validation fold) per story in the order configured, and a story is its
own text (``runs_continue`` false: context windows never reach into the previous story); a
story's sound starts 5 TRs after its first volume (TextGrid times are relative to the sound);
10 TRs are trimmed at each end of every story; words are the TextGrid ``word`` tier without
the silence/noise marks.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np

from brainattr.dataset import DatasetError, DatasetWriter
from brainattr.download import RemoteFile, read_manifest
from brainattr.sources.common import story_tables, with_base, zero_nan
from brainattr.textgrid import textgrid_words

log = logging.getLogger(__name__)

STORIES = [
    "alternateithicatom",
    "avatar",
    "howtodraw",
    "legacy",
    "life",
    "myfirstdaywiththeyankees",
    "naked",
    "odetostepfather",
    "souls",
    "undertheinfluence",
    "wheretheressmoke",
]
# Raw volumes per story in the reading experiment (story_01 ... story_11).
RAW_TRS = [363, 387, 374, 420, 450, 378, 442, 424, 375, 324, 311]
TRIM = 10
SOUND_ONSET_TRS = 5
GIN_REPO = "https://gin.g-node.org/denizenslab/narratives_reading_listening_fmri"
OPENNEURO = "https://s3.amazonaws.com/openneuro.org/ds003020"
OPENNEURO_PAGE = "https://openneuro.org/datasets/ds003020"
MANIFEST = Path(__file__).resolve().parents[3] / "resources" / "manifests" / "ds003020.tsv"
TEST_STORY = "wheretheressmoke"


def _manifest(spec: dict) -> dict:
    return read_manifest(spec.get("manifest") or MANIFEST)


def _openneuro_file(spec: dict, path: str, kind: str, manifest: dict) -> RemoteFile:
    size, checksum = manifest.get(path, (None, None))
    if checksum is None:
        raise DatasetError(
            f"{path} is not in the ds003020 manifest {spec.get('manifest') or MANIFEST}; "
            "check the story and subject names (datasets.<name>.stories / subjects)"
        )
    url = with_base(spec, path, f"{OPENNEURO}/{path}")
    return RemoteFile(path, url, checksum, size, kind, OPENNEURO_PAGE)


def textgrid_path(story: str) -> str:
    return f"derivative/TextGrids/{story}.TextGrid"


def read_roi_masks(path: Path, n_voxels: int) -> dict[str, np.ndarray]:
    """ROI masks of a mapper file: ``roi_mask_<ROI>`` datasets, or (older files) any top-level
    1-D dataset of ``n_voxels`` zeros and ones, named by its ROI."""
    out = {}
    with h5py.File(path, "r") as f:
        for key, obj in f.items():
            if not isinstance(obj, h5py.Dataset) or obj.shape != (n_voxels,):
                continue
            values = obj[()]
            if key.startswith("roi_mask_"):
                out[key[len("roi_mask_") :]] = values.astype(bool)
            elif np.isin(values, (0, 1)).all():
                out[key] = values.astype(bool)
    return out


# the mapper ROIs that match HP's language ROIs (Toneva & Wehbe's IFG, PostTemp, AngularG):
# Broca (IFG), pSTS (posterior temporal), cIPL (angular gyrus), and sPMv (the speech region of
# the Huth lab's maps); AC, and the visual and face ROIs, are left out. Not every subject's
# mapper has every ROI: ``language`` is the union of those it has.
LANGUAGE_ROIS = ("Broca", "pSTS", "cIPL", "sPMv")


def with_language_roi(rois: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``rois`` plus ``language``, the union of its :data:`LANGUAGE_ROIS` (none: unchanged)."""
    present = [rois[r] for r in LANGUAGE_ROIS if r in rois]
    return {**rois, "language": np.logical_or.reduce(present)} if present else rois


def _story_words(download_dir: Path, stories: list[str]):
    return [textgrid_words(download_dir / textgrid_path(s)) for s in stories]


class _Deniz:
    """Source ``mrh``."""

    DEFAULT_SUBJECTS = tuple(f"{i:02d}" for i in range(1, 10))
    TR = 2.0045

    def _gin(self, spec: dict, path: str, kind: str = "hdf5") -> RemoteFile:
        canonical = f"{GIN_REPO}/raw/{spec.get('revision', 'master')}/{path}"
        return RemoteFile(path, with_base(spec, path, canonical), None, None, kind, GIN_REPO)

    def remote_files(self, spec: dict) -> list[RemoteFile]:
        manifest = _manifest(spec)
        out = [self._gin(spec, "datacite.yml", "any")]  # the repository's licence
        for s in spec["subjects"]:
            out += [
                self._gin(spec, f"responses/subject{s}_reading_fmri_data_trn.hdf"),
                self._gin(spec, f"responses/subject{s}_reading_fmri_data_val.hdf"),
                self._gin(spec, f"mappers/subject{s}_mappers.hdf"),
            ]
        out += [_openneuro_file(spec, textgrid_path(s), "textgrid", manifest) for s in STORIES]
        return out

    def prepare(self, spec: dict, download_dir: Path, out_dir: Path, name: str) -> None:
        stories = list(zip(STORIES, RAW_TRS, _story_words(download_dir, STORIES), strict=True))
        words_df, trs = story_tables(stories, self.TR, SOUND_ONSET_TRS * self.TR, TRIM)
        meta = {
            "source": "mrh",
            "url": GIN_REPO,
            "revision": spec.get("revision", "master"),
            "licence": _licence(download_dir / "datacite.yml"),
        }
        with DatasetWriter(out_dir, name, self.TR, words_df, trs, meta) as writer:
            for s in spec["subjects"]:
                bold, repeats = self._responses(download_dir, s, writer.warnings)
                rois = with_language_roi(
                    read_roi_masks(download_dir / f"mappers/subject{s}_mappers.hdf", bold.shape[1])
                )
                writer.add_subject(s, bold, rois, repeats={len(STORIES): repeats})
                log.info("subject %s: %d TRs x %d voxels, ROIs %s", s, *bold.shape, sorted(rois))

    def _responses(
        self, download_dir: Path, subject: str, warnings: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw-length responses of every story (n_raw_trs, V) and the repeats of the last
        (NaN set to 0 and counted in ``warnings``)."""
        parts = []
        trn = download_dir / f"responses/subject{subject}_reading_fmri_data_trn.hdf"
        with h5py.File(trn, "r") as f:
            for k, n_raw in enumerate(RAW_TRS[:-1], start=1):
                key = f"story_{k:02d}"
                if key not in f:
                    raise DatasetError(f"{trn} has no dataset {key}; it holds {sorted(f)}")
                x = f[key][()]
                x = x[0] if x.ndim == 3 and x.shape[0] == 1 else x  # (1, T, V) in some subjects
                parts.append(_check_story(x, n_raw, f"{trn}:{key}"))
        val = download_dir / f"responses/subject{subject}_reading_fmri_data_val.hdf"
        with h5py.File(val, "r") as f:
            if "story_11" not in f:
                raise DatasetError(f"{val} has no dataset story_11; it holds {sorted(f)}")
            reps = f["story_11"][()]
        if reps.ndim != 3:
            raise DatasetError(f"{val}:story_11 has shape {reps.shape}, expected (repeats, T, V)")
        for r in reps:
            _check_story(r, RAW_TRS[-1], f"{val}:story_11")
        parts.append(reps.mean(axis=0))
        bold = np.concatenate(parts).astype(np.float32)
        where = f"subject {subject}'s responses"
        return zero_nan(bold, where, warnings), zero_nan(reps[:, TRIM:-TRIM], where, [])


def _licence(path: Path) -> str:
    """The licence named in a GIN repository's datacite.yml."""
    import yaml

    try:
        info = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise DatasetError(f"{path} is not valid YAML ({err})") from err
    licence = info.get("license") or {}
    return str(licence.get("name", licence)) if licence else "not stated in datacite.yml"


def _check_story(x: np.ndarray, n_raw: int, where: str) -> np.ndarray:
    if x.ndim != 2 or x.shape[0] != n_raw:
        raise DatasetError(f"{where} has shape {x.shape}; expected ({n_raw}, n_voxels)")
    return x


class _LeBel:
    """Source ``lebel``."""

    DEFAULT_SUBJECTS = ("UTS01", "UTS02", "UTS03")
    TR = 2.0

    def remote_files(self, spec: dict) -> list[RemoteFile]:
        manifest = _manifest(spec)
        stories = spec.get("stories") or STORIES
        paths = [
            f"derivative/preprocessed_data/{s}/{story}.hf5"
            for s in spec["subjects"]
            for story in stories
        ]
        out = [_openneuro_file(spec, p, "hdf5", manifest) for p in paths]
        out += [_openneuro_file(spec, textgrid_path(s), "textgrid", manifest) for s in stories]
        out.append(_openneuro_file(spec, "derivative/respdict.json", "json", manifest))
        return out

    def prepare(self, spec: dict, download_dir: Path, out_dir: Path, name: str) -> None:
        stories = spec.get("stories") or STORIES
        respdict = json.loads((download_dir / "derivative/respdict.json").read_text())
        missing = [s for s in stories if s not in respdict]
        if missing:
            raise DatasetError(f"stories {missing} are not in derivative/respdict.json")
        n_raw = [int(respdict[s]) for s in stories]
        words_df, trs = story_tables(
            list(zip(stories, n_raw, _story_words(download_dir, stories), strict=True)),
            self.TR,
            SOUND_ONSET_TRS * self.TR,
            TRIM,
        )
        kept = trs["kept"].to_numpy()
        meta = {"source": "lebel", "url": OPENNEURO_PAGE, "stories": stories}
        with DatasetWriter(out_dir, name, self.TR, words_df, trs, meta) as writer:
            for s in spec["subjects"]:
                bold, repeats = None, {}
                for run, story in enumerate(stories, start=1):
                    path = download_dir / f"derivative/preprocessed_data/{s}/{story}.hf5"
                    with h5py.File(path, "r") as f:
                        data = f["data"][()]
                        if "individual_repeats" in f:
                            repeats[run] = zero_nan(f["individual_repeats"][()], str(path), [])
                    rows = np.flatnonzero(kept & (trs["run"].to_numpy() == run))
                    if data.ndim != 2 or data.shape[0] != rows.size:
                        raise DatasetError(
                            f"{path}: data has shape {data.shape}; respdict.json gives "
                            f"{respdict[story]} TRs, so {rows.size} after trimming {TRIM}+{TRIM}"
                        )
                    if bold is None:
                        bold = np.full((len(trs), data.shape[1]), np.nan, dtype=np.float32)
                    bold[rows] = zero_nan(data, str(path), writer.warnings)
                writer.add_subject(s, bold, repeats=repeats)
                log.info("subject %s: %d TRs x %d voxels", s, *bold.shape)


DENIZ = _Deniz()
LEBEL = _LeBel()
