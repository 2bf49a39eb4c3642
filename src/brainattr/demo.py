"""The embedded demo: an original story presented as HP is, with simulated BOLD.

Ground truth. Only the story's character and place names (``DRIVER_WORDS``) drive the
simulated voxels: every occurrence of a driver word adds an impulse, with a seeded
per-subject, per-voxel weight for that name, to the voxel's neural drive; the drive is
convolved with SPM's HRF (nilearn) and sampled at each TR onset, and Gaussian noise is
added at the configured SNR. Voxels of the ROI ``control`` get noise only. A good BA
attribution should therefore put names among its most important words.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from nilearn.glm.first_level import spm_hrf

from brainattr.dataset import TR_COLUMNS, WORD_COLUMNS, DatasetWriter
from brainattr.rehearsal import LAYOUTS, layout_tables

DRIVER_WORDS = ("marta", "tobias", "elin", "oskar", "saltmere", "kelderwick", "fenwood")
DRIVER_CLASS = "character and place names of the story"
_FINE_DT = 0.1  # s, resolution of the simulated neural drive


def normalize_word(word: str) -> str:
    """Lower-case form without surrounding punctuation or a possessive 's."""
    w = re.sub(r"^[^\w]+|[^\w]+$", "", word.lower())
    return re.sub(r"['’]s$", "", w)


def story_paragraphs() -> list[list[str]]:
    """The demo story's paragraphs as word lists (the title line excluded)."""
    text = resources.files("brainattr").joinpath("data/demo_story.txt").read_text()
    paragraphs = [p.split() for p in text.strip().split("\n\n")]
    return paragraphs[1:]


def split_runs(paragraphs: list[list[str]], n_runs: int) -> list[list[str]]:
    """Split paragraphs into ``n_runs`` runs of near-equal length, at paragraph ends."""
    total = sum(len(p) for p in paragraphs)
    if len(paragraphs) < n_runs:
        raise ValueError(
            f"the demo story's first {total} words hold {len(paragraphs)} paragraph(s), too few "
            f"for {n_runs} runs (a run ends at a paragraph end): raise "
            "datasets.<name>.demo.max_words (0 = the whole story) or lower demo.n_runs"
        )
    runs: list[list[str]] = [[]]
    done = 0
    for i, para in enumerate(paragraphs):
        runs[-1].extend(para)
        done += len(para)
        left_paras = len(paragraphs) - i - 1
        runs_to_open = n_runs - len(runs)
        if runs_to_open and (done >= total * len(runs) / n_runs or left_paras == runs_to_open):
            runs.append([])
    return runs


def simulate_bold(
    word_onsets: np.ndarray,
    word_weights: np.ndarray,
    tr_onsets: np.ndarray,
    snr: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """HRF-convolved word drive plus Gaussian noise.

    Parameters
    ----------
    word_onsets : array of shape (n_words,)
    word_weights : array of shape (n_words, n_voxels)
        Each word's drive per voxel (zero for non-driver words).
    tr_onsets : array of shape (n_trs,)
    snr : float
        var(drive) / var(noise) per voxel with a drive; undriven voxels get unit noise.
    rng : Generator

    Returns
    -------
    bold : array of shape (n_trs, n_voxels)
    signal : array of shape (n_trs, n_voxels)
        The noiseless part.
    """
    n_fine = math.ceil((tr_onsets.max() + 1.0) / _FINE_DT) + 1
    drive = np.zeros((n_fine, word_weights.shape[1]))
    np.add.at(drive, np.round(word_onsets / _FINE_DT).astype(int), word_weights)
    hrf = spm_hrf(_FINE_DT, oversampling=1)
    signal_fine = np.stack(
        [np.convolve(drive[:, v], hrf)[:n_fine] for v in range(drive.shape[1])], axis=1
    )
    signal = signal_fine[np.round(tr_onsets / _FINE_DT).astype(int)]
    bold = signal + rng.standard_normal(signal.shape) * noise_sd(signal, snr)
    return bold, signal


def _mixed_bold(
    driver_signals: np.ndarray, weights: np.ndarray, snr: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """BOLD of many voxels as :func:`simulate_bold` gives it, cheaply: the HRF is linear, so a
    voxel's signal is its weighted sum of the drivers' responses. float32 (paper sizes).

    driver_signals : (n_trs, n_drivers); weights : (n_drivers, n_voxels)
    """
    signal = (driver_signals @ weights).astype(np.float32)
    noise = rng.standard_normal(signal.shape, dtype=np.float32)
    return signal + noise * noise_sd(signal, snr).astype(np.float32), signal


def noise_sd(signal: np.ndarray, snr: float) -> np.ndarray:
    """Per-voxel noise s.d. giving var(signal) / var(noise) = snr (1 where no signal)."""
    sd = signal.std(axis=0)
    return np.where(sd > 0, sd / math.sqrt(snr), 1.0)


# closed-class words of the demo story's English (determiners, pronouns, prepositions,
# conjunctions, auxiliaries): the demo's "function" group
FUNCTION_WORDS = frozenset(
    """a an the this that these those my your his her its our their he she it they we you i
    me him them us who whom which what of in on at by for with from to into onto over under
    through across after before about against between among around behind beside beyond
    up down out off and or but nor so yet if than then as because while when where though
    is am are was were be been being do does did have has had will would shall should can
    could may might must not no""".split()
)
MNI_LANGUAGE = (-56.0, -20.0, 4.0)  # left superior temporal gyrus
MNI_CONTROL = (24.0, -92.0, 2.0)  # right occipital lobe
DEMO_AFFINE = np.array(
    [[4.0, 0, 0, -90], [0, 4.0, 0, -126], [0, 0, 4.0, -72], [0, 0, 0, 1]]
)  # a 4 mm MNI grid


def demo_word_groups(words: pd.DataFrame) -> pd.DataFrame:
    """The demo's annotation groups: ``names`` (the planted drivers), ``function``, ``content``."""
    forms = words["word"].map(normalize_word)
    names = forms.isin(DRIVER_WORDS).to_numpy()
    function = forms.isin(FUNCTION_WORDS).to_numpy() & ~names
    content = ~names & ~function & (forms != "").to_numpy()
    return pd.DataFrame(
        {
            "word_index": words["word_index"],
            "names": names,
            "function": function,
            "content": content,
        }
    )


def cluster_ijk(center_mni: tuple[float, float, float], n: int) -> np.ndarray:
    """The ``n`` voxels of ``DEMO_AFFINE``'s grid nearest an MNI point, shape (n, 3)."""
    inv = np.linalg.inv(DEMO_AFFINE)
    c = (inv @ np.r_[center_mni, 1.0])[:3]
    r = int(np.ceil(np.cbrt(n))) + 2
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
    ijk = np.round(c).astype(int) + grid
    order = np.lexsort((*ijk.T[::-1], np.linalg.norm(ijk - c, axis=1)))
    return ijk[order[:n]]


def make_demo_dataset(folder: str | Path, params: dict, seed: int) -> None:
    """Generate the demo dataset into ``folder`` in the common format.

    Parameters
    ----------
    folder : path
    params : dict
        The ``datasets.<name>.demo`` config block (see the config schema).
    seed : int
    """
    rng = np.random.default_rng(seed)
    layout = params.get("layout", "story")
    if layout == "story":
        words, trs, tr = _story_tables(params)
    else:  # a paper dataset's timing, the story's words cycled (brainattr.rehearsal)
        text = [w for p in story_paragraphs() for w in p]
        words, trs = layout_tables(layout, text, rng)
        tr = LAYOUTS[layout]["tr"]

    n_vox = params["n_voxels"]
    n_driven = max(1, round(params["driver_voxel_fraction"] * n_vox))
    forms = words["word"].map(normalize_word).to_numpy()
    driver_of_word = np.array([DRIVER_WORDS.index(f) if f in DRIVER_WORDS else -1 for f in forms])
    n_repeats = params.get("n_repeats", 0)
    repeated = (trs["run"] == trs["run"].max()).to_numpy() & trs["kept"].to_numpy()
    language = np.zeros(n_vox, dtype=bool)
    language[:n_driven] = True
    rois = {"language": language, "control": ~language}
    voxel_ijk = np.concatenate(
        [cluster_ijk(MNI_LANGUAGE, n_driven), cluster_ijk(MNI_CONTROL, n_vox - n_driven)]
    )
    planted = {}
    meta = {
        "source": "demo",
        "description": "brainattr demo: original story, simulated BOLD with planted driver words",
        "driver_class": DRIVER_CLASS,
        "driver_words": list(DRIVER_WORDS),
        "seed": seed,
        "params": params,
    }
    if layout != "story":  # (n_trs, n_drivers): each driver word's noiseless response
        one_hot = (driver_of_word[:, None] == np.arange(len(DRIVER_WORDS))).astype(float)
        _, driver_signals = simulate_bold(
            words["onset"].to_numpy(), one_hot, trs["onset"].to_numpy(), 1.0, rng
        )
    with DatasetWriter(folder, "demo", tr, words, trs, meta, runs_continue=True) as writer:
        for s in range(1, params["n_subjects"] + 1):
            subject = f"sub-{s:02d}"
            weights = np.zeros((len(DRIVER_WORDS), n_vox))
            weights[:, :n_driven] = rng.standard_normal((len(DRIVER_WORDS), n_driven))
            if layout == "story":
                word_weights = np.where(driver_of_word[:, None] >= 0, weights[driver_of_word], 0.0)
                bold, signal = simulate_bold(
                    words["onset"].to_numpy(), word_weights, trs["onset"].to_numpy(),
                    params["snr"], rng,
                )  # fmt: skip
            else:  # paper sizes: the drivers' HRF responses once, then per voxel a mixture
                bold, signal = _mixed_bold(driver_signals, weights, params["snr"], rng)
            repeats = {}
            if n_repeats:
                sig = signal[repeated]
                sd = noise_sd(signal, params["snr"])
                rep = sig + rng.standard_normal((n_repeats, *sig.shape)) * sd
                bold[repeated] = rep.mean(axis=0)
                repeats = {int(trs["run"].max()): rep}
            writer.add_subject(subject, bold, rois, repeats, voxel_ijk, DEMO_AFFINE)
            planted[subject] = weights
        writer.add_word_groups(demo_word_groups(words))
    np.savez(Path(folder) / "planted_weights.npz", **planted)


def _story_tables(params: dict) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Word and TR tables of the story laid out in ``n_runs`` runs (the demo's layout)."""
    paragraphs = story_paragraphs()
    if params.get("max_words"):
        kept, budget = [], params["max_words"]
        for p in paragraphs:
            if budget <= 0:
                break
            kept.append(p[:budget])
            budget -= len(p)
        paragraphs = kept
    runs = split_runs(paragraphs, params["n_runs"])
    tr, step = params["tr"], params["word_seconds"]
    word_rows, tr_rows = [], []
    clock = 0.0
    for run, run_words in enumerate(runs, start=1):
        first = clock + params["rest_before_seconds"]
        for i, w in enumerate(run_words):
            word_rows.append((len(word_rows), w, first + i * step, first + (i + 1) * step, run))
        duration = params["rest_before_seconds"] + len(run_words) * step
        duration += params["rest_after_seconds"]
        n_trs = math.ceil(duration / tr)
        n_rest = int(params["rest_before_seconds"] // tr)
        for k in range(n_trs):
            tr_rows.append((len(tr_rows), clock + k * tr, run, k >= n_rest))
        clock += n_trs * tr
    words = pd.DataFrame(word_rows, columns=WORD_COLUMNS)
    trs = pd.DataFrame(tr_rows, columns=TR_COLUMNS)
    return words, trs, tr
