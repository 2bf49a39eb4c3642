"""Small files in the exact formats of the real dataset sources, for the local test server.

Each writer lays files out as the source's download folder (= a mirror's layout) under
``root`` and returns what the test needs to check against. Responses carry a weak signal
of the words so that encoding has something to fit; words are synthetic (never the
chapter's text).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
from scipy.io import savemat

VOCAB = (
    "the a wizard owl castle door said quietly 1990 don't night letter stairs green "
    "dragon broom ran looked over under friend school window fire stone"
).split()
# Real HP run lengths and words per run (Wehbe et al. 2014).
HP_RUN_TRS = (340, 352, 279, 380)
HP_RUN_WORDS = (1303, 1351, 1059, 1463)


def hp_timing(small: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TR onsets, TR runs and word-slot onsets with HP's structure.

    ``small=False`` reproduces the real arrays (4 runs of 340/352/279/380 TRs, 20 s rest,
    then one slot every 0.5 s: 1303/1351/1059/1463 slots); ``small=True`` keeps the structure
    with 4 runs of 45 TRs and 120 slots each.
    """
    run_trs = (45,) * 4 if small else HP_RUN_TRS
    run_words = (120,) * 4 if small else HP_RUN_WORDS
    tr_on, tr_run, word_on, start = [], [], [], 0
    for run, (n_tr, n_w) in enumerate(zip(run_trs, run_words, strict=True), start=1):
        tr_on += [2 * (start + k) for k in range(n_tr)]
        tr_run += [run] * n_tr
        word_on += [2 * start + 20 + 0.5 * k for k in range(n_w)]
        start += n_tr
    return (
        np.asarray(tr_on, dtype=np.uint16),
        np.asarray(tr_run, dtype=np.uint16),
        np.asarray(word_on, dtype=np.float64),
    )


def hp_texts(n: int, seed: int = 0) -> list[str]:
    """Slot texts: words, a ``+`` every 25 slots, an ``@`` italics prefix now and then."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        if i % 25 == 24:
            out.append("+")
        else:
            w = VOCAB[rng.integers(len(VOCAB))]
            out.append("@" + w if i % 97 == 5 else w)
    return out


def _signal(word_on, tr_on, n_voxels, seed, noise=1.0):
    """TR responses driven by the number of words with an 'o' in each TR, plus noise."""
    rng = np.random.default_rng(seed)
    texts = hp_texts(len(word_on))
    drive = np.zeros(len(tr_on))
    for t, w in zip(word_on, texts, strict=True):
        k = np.searchsorted(tr_on, t, side="right") - 1
        drive[k] += "o" in w
    weights = rng.normal(size=n_voxels)
    return np.outer(drive, weights) + noise * rng.normal(size=(len(tr_on), n_voxels))


def write_story_features(path: Path, n_slots: int) -> None:
    rng = np.random.default_rng(1)
    groups = [("NNSE", 100), ("Speech", 2), ("Motion", 7), ("Emotion", 23), ("Verbs", 5),
              ("Characters", 10), ("Visual", 2), ("Word_Num", 1), ("Part_of_speech", 28),
              ("Dependency_role", 17)]  # fmt: skip
    feats = np.empty((1, len(groups)), dtype=[("type", "O"), ("names", "O"), ("values", "O")])
    for i, (name, k) in enumerate(groups):
        names = np.array([f"{name}_{j}" for j in range(k)], dtype=object).reshape(1, -1)
        feats[0, i] = (name, names, (rng.random((n_slots, k)) < 0.2).astype(float))
    savemat(path, {"features": feats})


def write_hp_cmu(root: Path, subjects: list[str], n_voxels: int, small: bool = True) -> dict:
    """``subject_<n>.mat`` (MATLAB v5: data, time, words, meta) and ``story_features.mat``."""
    root.mkdir(parents=True, exist_ok=True)
    tr_on, tr_run, word_on = hp_timing(small)
    texts = hp_texts(len(word_on))
    words = np.empty((1, len(texts)), dtype=[("text", "O"), ("start", "O"), ("length", "O")])
    for i, (w, t) in enumerate(zip(texts, word_on, strict=True)):
        words[0, i] = (w, float(t), 0.5)
    dims = (51, 60, 49)
    for k, s in enumerate(subjects):
        rng = np.random.default_rng(10 + k)
        flat = rng.choice(np.prod(dims), n_voxels, replace=False)
        coords = np.stack(np.unravel_index(flat, dims), axis=1) + 1  # MATLAB: 1-based
        data = (
            500 + 3 * _signal(word_on, tr_on, n_voxels, k) + np.linspace(0, 5, len(tr_on))[:, None]
        )
        meta = {
            "subject": int(s),
            "nTRs": len(tr_on),
            "nvoxels": n_voxels,
            "dimx": dims[0],
            "dimy": dims[1],
            "dimz": dims[2],
            "colToCoord": coords.astype(float),
            "colToROInum": (np.arange(n_voxels) % 4).astype(float),  # 0 = no AAL label
            "ROInumToName": np.array(
                ["Temporal_Sup_L", "Frontal_Inf_Oper_L", "Angular_L"], dtype=object
            ).reshape(1, -1),
            "voxel_size": np.array([3.0, 3.0, 3.0]),
            "matrix": np.array([[-3, 0, 0, 78], [0, 3, 0, -112], [0, 0, 3, -50], [0, 0, 0, 1.0]]),
        }
        time = np.stack([tr_on, tr_run], axis=1).astype(float)
        savemat(
            root / f"subject_{s}.mat", {"data": data, "time": time, "words": words, "meta": meta}
        )
    write_story_features(root / "story_features.mat", len(texts))
    return {"texts": texts, "n_trs": len(tr_on)}


def write_hp_toneva(root: Path, subjects: list[str], n_voxels: int, small: bool = True) -> dict:
    """Toneva's ``fMRI/`` bundle (.npy), the pickled ROI-mask dict, ``story_features.mat``."""
    fmri = root / "fMRI"
    fmri.mkdir(parents=True, exist_ok=True)
    tr_on, tr_run, word_on = hp_timing(small)
    texts = hp_texts(len(word_on))
    np.save(fmri / "time_fmri.npy", tr_on)
    np.save(fmri / "runs_fmri.npy", tr_run)
    np.save(fmri / "time_words_fmri.npy", word_on)
    np.save(fmri / "words_fmri.npy", np.array(texts))
    kept = np.concatenate([np.arange(n)[20 : n - 15] + s for n, s in _run_starts(tr_run)])
    masks = {}
    for k, s in enumerate(subjects):
        data = _signal(word_on, tr_on, n_voxels, k)[kept]
        np.save(fmri / f"data_subject_{s}.npy", data.astype(np.float32))
        lang = (np.arange(n_voxels) % 2 == 0).astype(np.int64)
        masks[s] = {"all": lang, "PostTemp": lang * (np.arange(n_voxels) < n_voxels // 2)}
    np.save(root / "HP_subj_roi_inds.npy", np.array(masks, dtype=object), allow_pickle=True)
    write_story_features(root / "story_features.mat", len(texts))
    return {"texts": texts, "n_kept": len(kept)}


def _run_starts(runs):
    out, start = [], 0
    for r in np.unique(runs):
        n = int((runs == r).sum())
        out.append((n, start))
        start += n
    return out


def story_words(n_trs: int, tr: float, seed: int) -> list[tuple[float, float, str]]:
    """TextGrid word-tier intervals for a story of ``n_trs`` volumes whose sound starts after
    5 TRs and ends 5 TRs before the last volume, with silences and noise marks."""
    rng = np.random.default_rng(seed)
    end = (n_trs - 10) * tr
    rows, t = [], 0.0
    marks = ["sp", "{NS}", "br", "", "{LG}"]
    while t < end - 1.0:
        if rng.random() < 0.1:
            rows.append((t, t + 0.4, marks[rng.integers(len(marks))]))
        else:
            rows.append((t, t + 0.6, VOCAB[rng.integers(len(VOCAB))]))
        t = rows[-1][1]
    rows.append((t, end, "sp"))
    return rows


def write_textgrid(path: Path, rows, style: str, utf16: bool = False) -> None:
    """A two-tier (phone, word) TextGrid in Praat's long, short or chronological format."""
    xmax = rows[-1][1]
    tiers = [("phone", rows), ("word", rows)]
    q = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
    if style == "chronological":
        lines = ['"Praat chronological TextGrid text file"', f"0 {xmax}   ! Time domain.",
                 f"{len(tiers)}   ! Number of tiers."]  # fmt: skip
        lines += [f'"IntervalTier" {q(name)} 0 {xmax}' for name, _ in tiers]
        entries = sorted(
            ((a, i + 1, b, m) for i, (_, rs) in enumerate(tiers) for a, b, m in rs),
            key=lambda e: (e[0], e[1]),
        )
        for a, tier, b, m in entries:
            lines += ["", f"{tier} {a} {b}", q(m)]
    elif style == "long":
        lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 "]
        lines += [f"xmax = {xmax} ", "tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
        for i, (name, rs) in enumerate(tiers, start=1):
            lines += [f"    item [{i}]:", '        class = "IntervalTier" ',
                      f"        name = {q(name)} ", "        xmin = 0 ", f"        xmax = {xmax} ",
                      f"        intervals: size = {len(rs)} "]  # fmt: skip
            for j, (a, b, m) in enumerate(rs, start=1):
                lines += [f"        intervals [{j}]:", f"            xmin = {a} ",
                          f"            xmax = {b} ", f"            text = {q(m)} "]  # fmt: skip
    else:
        lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", str(xmax),
                 "<exists>", str(len(tiers))]  # fmt: skip
        for name, rs in tiers:
            lines += ['"IntervalTier"', q(name), "0", str(xmax), str(len(rs))]
            for a, b, m in rs:
                lines += [str(a), str(b), q(m)]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-16") if utf16 else text.encode("utf-8"))


def _story_bold(words, n_trs, tr, n_voxels, seed):
    rng = np.random.default_rng(seed)
    drive = np.zeros(n_trs)
    for a, _, m in words:
        if "o" in m:
            drive[min(n_trs - 1, int((a + 5 * tr) // tr))] += 1
    return np.outer(drive, rng.normal(size=n_voxels)) + rng.normal(size=(n_trs, n_voxels))


STYLES = ("long", "short", "chronological")


def write_textgrids(root: Path, stories: list[str], n_trs: list[int], tr: float) -> dict:
    out = {}
    for i, (story, n) in enumerate(zip(stories, n_trs, strict=True)):
        rows = story_words(n, tr, seed=100 + i)
        write_textgrid(
            root / f"derivative/TextGrids/{story}.TextGrid", rows, STYLES[i % 3], utf16=i == 1
        )
        out[story] = rows
    return out


def write_mrh(root: Path, subjects: list[str], n_voxels: int) -> dict:
    """GIN reading responses (trn/val HDF5, the (1, T, V) quirk), mappers, TextGrids."""
    from brainattr.sources.mrh import RAW_TRS, STORIES

    tr = 2.0045
    words = write_textgrids(root, STORIES, RAW_TRS, tr)
    (root / "datacite.yml").write_text(
        'title: "Narratives reading listening fMRI"\nlicense:\n  name: "CC BY 4.0"\n'
        '  url: "https://creativecommons.org/licenses/by/4.0/"\n'
    )
    (root / "responses").mkdir(parents=True, exist_ok=True)
    (root / "mappers").mkdir(parents=True, exist_ok=True)
    for k, s in enumerate(subjects):
        quirk = k % 2 == 1  # as subjects 04, 06, 09: some stories stored (1, T, V)
        with h5py.File(root / f"responses/subject{s}_reading_fmri_data_trn.hdf", "w") as f:
            for i, story in enumerate(STORIES[:-1]):
                x = _story_bold(words[story], RAW_TRS[i], tr, n_voxels, 10 * k + i)
                f[f"story_{i + 1:02d}"] = (x[None] if quirk and i % 3 == 0 else x).astype(
                    np.float32
                )
        last = STORIES[-1]
        base = _story_bold(words[last], RAW_TRS[-1], tr, n_voxels, 10 * k + 99)
        reps = np.stack([base, base + np.random.default_rng(k).normal(size=base.shape)])
        with h5py.File(root / f"responses/subject{s}_reading_fmri_data_val.hdf", "w") as f:
            f["story_11"] = reps.astype(np.float32)
        with h5py.File(root / f"mappers/subject{s}_mappers.hdf", "w") as f:
            broca = np.arange(n_voxels) % 3 == 0
            ac = np.arange(n_voxels) % 3 == 1
            if k == 0:  # current key style
                f["roi_mask_Broca"], f["roi_mask_AC"] = broca, ac
            else:  # older files: bare ROI names
                f["Broca"], f["AC"] = broca.astype(np.uint8), ac.astype(np.uint8)
            f["flatmap_mask"] = np.ones((20, 30), dtype=bool)
            g = f.create_group("voxel_to_flatmap")
            g["data"], g["indices"] = np.ones(n_voxels), np.arange(n_voxels)
    return {"words": words}


def write_lebel(root: Path, subjects: list[str], stories: list[str], n_voxels: int,
                n_trs: list[int]) -> dict:  # fmt: skip
    """ds003020 derivatives: per-story ``.hf5`` (trimmed ``data``; ``individual_repeats`` for
    the test story), TextGrids and ``respdict.json``."""
    tr = 2.0
    words = write_textgrids(root, stories, n_trs, tr)
    for k, s in enumerate(subjects):
        folder = root / f"derivative/preprocessed_data/{s}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, (story, n) in enumerate(zip(stories, n_trs, strict=True)):
            x = _story_bold(words[story], n, tr, n_voxels, 10 * k + i)[10:-10]
            with h5py.File(folder / f"{story}.hf5", "w") as f:
                if story == "wheretheressmoke":
                    reps = np.stack(
                        [x + np.random.default_rng(j).normal(size=x.shape) for j in range(5)]
                    )
                    f["individual_repeats"] = reps
                    x = reps.mean(axis=0)
                f["data"] = x.astype(np.float64)
    respdict = dict(zip(stories, n_trs, strict=True))
    (root / "derivative/respdict.json").write_text(json.dumps(respdict))
    return {"words": words}


def write_manifest(root: Path, out: Path) -> Path:
    """A ds003020-style manifest (path, size_bytes, md5, storage) of every file under root."""
    lines = ["# test manifest", "path\tsize_bytes\tmd5\tstorage"]
    for p in sorted(root.rglob("*")):
        if p.is_file():
            md5 = hashlib.md5(p.read_bytes()).hexdigest()
            lines.append(f"{p.relative_to(root)}\t{p.stat().st_size}\t{md5}\tannex")
    out.write_text("\n".join(lines) + "\n")
    return out
