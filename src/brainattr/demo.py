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

from brainattr.dataset import write_dataset

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
        raise ValueError(f"{len(paragraphs)} paragraphs cannot make {n_runs} runs")
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
    sd = signal.std(axis=0)
    noise_sd = np.where(sd > 0, sd / math.sqrt(snr), 1.0)
    bold = signal + rng.standard_normal(signal.shape) * noise_sd
    return bold, signal


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
    words = pd.DataFrame(word_rows, columns=["word_index", "word", "onset", "offset", "run"])
    trs = pd.DataFrame(tr_rows, columns=["tr_index", "onset", "run", "kept"])

    n_vox = params["n_voxels"]
    n_driven = max(1, round(params["driver_voxel_fraction"] * n_vox))
    forms = words["word"].map(normalize_word).to_numpy()
    driver_of_word = np.array([DRIVER_WORDS.index(f) if f in DRIVER_WORDS else -1 for f in forms])
    responses, rois, planted = {}, {}, {}
    for s in range(1, params["n_subjects"] + 1):
        subject = f"sub-{s:02d}"
        weights = np.zeros((len(DRIVER_WORDS), n_vox))
        weights[:, :n_driven] = rng.standard_normal((len(DRIVER_WORDS), n_driven))
        word_weights = np.where(driver_of_word[:, None] >= 0, weights[driver_of_word], 0.0)
        bold, _ = simulate_bold(
            words["onset"].to_numpy(), word_weights, trs["onset"].to_numpy(), params["snr"], rng
        )
        responses[subject] = bold
        language = np.zeros(n_vox, dtype=bool)
        language[:n_driven] = True
        rois[subject] = {"language": language, "control": ~language}
        planted[subject] = weights
    meta = {
        "source": "demo",
        "description": "brainattr demo: original story, simulated BOLD with planted driver words",
        "driver_class": DRIVER_CLASS,
        "driver_words": list(DRIVER_WORDS),
        "seed": seed,
        "params": params,
    }
    write_dataset(folder, "demo", tr, words, trs, responses, rois, meta, runs_continue=True)
    np.savez(Path(folder) / "planted_weights.npz", **planted)
