"""BA readouts: the frozen ridge of one subject x layer x fold, applied to pooled states.

For target t of subject s and fold k, the readout predicts the ROI BOLD
    y_hat_t = sum_d W_d^T e_{t-d} + b
from the pooled states e of the delay windows. :class:`Readouts` loads each encoding once,
refits its ROI weights from the stored alphas, and keeps on the device one copy of the weights
per (subject, layer, fold) and of each subject's ROI BOLD: a target's heads are views into
them, so memory does not grow with the number of targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from brainattr.controls import feature_control
from brainattr.dataset import Dataset, DatasetError, read_repeats, read_responses
from brainattr.design import prepare_responses, zscore_per_run
from brainattr.encoding import roi_weights
from brainattr.models import LoadedModel
from brainattr.tables import read_encoding, read_features
from brainattr.targets import Target
from brainattr.windows import Window, pooled_states_by_layer

NULLS = ("random_readout", "shifted_bold")
MIN_SHIFT_TRS = 20


@dataclass
class BAHead:
    """The frozen readout of one subject x layer for one target's fold."""

    subject: str
    layer: int
    weights: torch.Tensor  # (D * hidden, n_roi)
    intercept: torch.Tensor  # (n_roi,)
    y: torch.Tensor  # (n_roi,) BOLD at the target
    repeat: int = 0  # 0: y is the (mean) bold; k >= 1: y is the k-th repeat's BOLD
    null: str = ""  # "": the fitted readout; else a brain-free null of NULLS
    # a property-removal control's offset at the target, already added to y (the loss is the
    # residualised readout's); r compares prediction - offset with y - offset
    offset: torch.Tensor | None = None


def readout(windows: Sequence[Window | None], states: torch.Tensor, head: BAHead) -> torch.Tensor:
    """Predicted ROI BOLD (n_roi,) of one head from its layer's pooled states of the present
    windows (n_present, hidden); a delay whose TR has no words contributes zeros."""
    parts, k = [], 0
    for w in windows:
        if w is None:
            parts.append(states.new_zeros(states.shape[-1]))
        else:
            parts.append(states[k])
            k += 1
    return torch.cat(parts) @ head.weights + head.intercept


def ba_predictions(
    lm: LoadedModel,
    windows: Sequence[Window | None],
    heads: list[BAHead],
    layers: list[int],
    embeds: list[torch.Tensor] | None = None,
    states: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """Predicted ROI BOLD of each head from the delay windows, each (n_roi,).

    ``states`` (n_present_windows, n_layers, hidden) may be given when the windows were
    run as part of a larger batch; otherwise they are computed here.
    """
    if states is None:
        present = [w for w in windows if w is not None]
        by_layer = pooled_states_by_layer(lm, present, layers, embeds)
    else:
        by_layer = [states[:, li] for li in range(len(layers))]
    return [readout(windows, by_layer[layers.index(head.layer)], head) for head in heads]


def repeat_targets(
    kept_runs: np.ndarray, repeats: dict[int, np.ndarray], roi: np.ndarray
) -> dict[int, np.ndarray]:
    """Each presentation's ROI BOLD at every kept TR of a repeated run.

    Parameters
    ----------
    kept_runs : array of shape (n_kept,)
        Run of each kept TR (the rows of the encoding model).
    repeats : {run: array (n_repeats, n_kept_trs_of_run, n_voxels)}
    roi : bool array of shape (n_voxels,)

    Returns
    -------
    targets : {kept row: array (n_repeats, n_roi)}
        Each presentation z-scored over its run, as the mean BOLD is for encoding.
    """
    out = {}
    for run, rep in repeats.items():
        rows = np.flatnonzero(kept_runs == run)
        if rep.shape[1] != rows.size:
            raise ValueError(f"run {run}: {rep.shape[1]} repeated TRs but {rows.size} kept TRs")
        z = np.stack([zscore_per_run(r.astype(np.float64), np.zeros(len(r))) for r in rep])
        out.update({int(row): z[:, i, roi] for i, row in enumerate(rows)})
    return out


def shift_within_runs(bold: np.ndarray, runs: np.ndarray, kept: np.ndarray, shift: int):
    """BOLD whose kept TRs are circularly shifted by ``shift`` TRs within each run.

    The stimulus, features and pipeline stay as they are; only the link between a TR's words
    and its BOLD is broken (the ``shifted_bold`` null). Raises a DatasetError where a run is
    too short for the shift to move every TR at least ``MIN_SHIFT_TRS`` away.
    """
    out = np.array(bold, copy=True)
    for run in np.unique(runs[kept]):
        rows = np.flatnonzero(kept & (runs == run))
        if not MIN_SHIFT_TRS <= shift <= rows.size - MIN_SHIFT_TRS:
            raise DatasetError(
                f"attribution.null_shift_trs = {shift}: run {run} has {rows.size} kept TRs; "
                f"the shift must be between {MIN_SHIFT_TRS} and {rows.size - MIN_SHIFT_TRS} so "
                "that every TR moves that far in both directions"
            )
        out[rows] = np.roll(bold[rows], shift, axis=0)
    return out


def random_readout_weights(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian weights of the same shape whose every voxel (column) keeps its norm."""
    g = rng.standard_normal(weights.shape)
    norm = np.linalg.norm(g, axis=0)
    return g * (np.linalg.norm(weights, axis=0) / np.where(norm > 0, norm, 1.0))


class Readouts:
    """Every (subject, layer) readout of one model and context, ready to build heads.

    Parameters
    ----------
    encoding_paths : {(subject, layer): path of its encoding result}
    features_path : path of the features the encodings were fit on
    dataset_dir : the dataset folder
    ds : the dataset read from it
    dtype, device : of the heads' tensors (the model's)
    backend : himalaya backend of the ROI refit
    repeats : also give a head per presentation of a repeated run (stability)
    nulls : brain-free nulls of :data:`NULLS` that also get a head per (subject, layer):
        ``random_readout`` (each fold's weights replaced by seeded Gaussian weights with each
        voxel's norm kept; intercept and BOLD as fitted) and ``shifted_bold`` (the ROI ridge
        refit, with the stored alphas, on BOLD circularly shifted by ``null_shift_trs`` within
        each run, and scored against that shifted BOLD)
    null_shift_trs, seed : of the nulls
    model : the model's config entry: its control keys (:mod:`brainattr.controls`) are those
        the encodings were fit with; with property removal each head's BOLD is raised by its
        TR's offset, so that the usual readout's loss equals the residualised readout's

    Attributes
    ----------
    keys : list of (subject, layer), in ``encoding_paths`` order
    encodings : {(subject, layer): :func:`brainattr.encoding.read_encoding` plus the refit
        ``weights_k``, ``intercept_k``}
    n_delays : int
        The delays the ridge was fit with (read from the encodings, the one source).
    fold : array of shape (n_kept,)
        Outer fold of each kept TR.
    """

    def __init__(
        self,
        encoding_paths: dict[tuple[str, int], str],
        features_path: str | Path,
        dataset_dir: str | Path,
        ds: Dataset,
        dtype: torch.dtype,
        device: torch.device,
        backend: str = "numpy",
        repeats: bool = False,
        nulls: Sequence[str] = (),
        null_shift_trs: int = 40,
        seed: int = 0,
        model: dict | None = None,
    ):
        unknown = sorted(set(nulls) - set(NULLS))
        if unknown:
            raise ValueError(f"attribution.nulls: unknown {unknown}; allowed: {', '.join(NULLS)}")
        self.dtype, self.device = dtype, device
        self.nulls = [n for n in NULLS if n in nulls]
        self._null_encodings: dict[tuple[str, str, int], dict] = {}
        self._null_y: dict[str, torch.Tensor] = {}
        self.keys = list(encoding_paths)
        self.encodings: dict[tuple[str, int], dict] = {}
        self._y: dict[str, torch.Tensor] = {}
        self._repeat_y: dict[str, dict[int, torch.Tensor]] = {}
        self._weights: dict[tuple[str, int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._offsets: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        runs, kept = ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy()
        bolds, shifted = {}, {}
        for (subject, layer), path in encoding_paths.items():
            e = read_encoding(path)
            if subject not in bolds:
                bolds[subject], _ = read_responses(dataset_dir, subject)
                y = prepare_responses(bolds[subject], runs, kept)[:, e["roi"]]
                self._y[subject] = self._tensor(y)  # (n_kept, n_roi); a target's y is a view
                reps = read_repeats(dataset_dir, subject) if repeats else {}
                self._repeat_y[subject] = {
                    row: self._tensor(r)
                    for row, r in repeat_targets(runs[kept], reps, e["roi"]).items()
                }
            n_delays = int(e["attrs"]["n_delays"])
            if not self.encodings:  # the control's property design is delayed like features
                control = feature_control(model or {}, dataset_dir, ds, n_delays)
            feats = read_features(features_path, layer)
            e.update(roi_weights(feats, bolds[subject], runs, kept, n_delays, e, backend, control))
            self.encodings[(subject, layer)] = e
            if "shifted_bold" in self.nulls:
                if subject not in shifted:  # once per subject, for all its layers
                    shifted[subject] = shift_within_runs(bolds[subject], runs, kept,
                                                         null_shift_trs)  # fmt: skip
                    y = prepare_responses(shifted[subject], runs, kept)[:, e["roi"]]
                    self._null_y[subject] = self._tensor(y)
                self._null_encodings[("shifted_bold", subject, layer)] = {
                    **e,
                    **roi_weights(
                        feats, shifted[subject], runs, kept, n_delays, e, backend, control
                    ),
                }
            if "random_readout" in self.nulls:
                rng = np.random.default_rng([seed, self.keys.index((subject, layer))])
                self._null_encodings[("random_readout", subject, layer)] = {
                    **e,
                    **{
                        f"weights_{k}": random_readout_weights(e[f"weights_{k}"], rng)
                        for k in range(int(e["fold"].max()) + 1)
                    },
                }
        delays = {int(e["attrs"]["n_delays"]) for e in self.encodings.values()}
        if len(delays) != 1:
            raise DatasetError(
                f"encodings {sorted(encoding_paths.values())} were fit with different numbers "
                f"of delays {sorted(delays)}; rerun the encoding stage with one config"
            )
        self.n_delays = delays.pop()
        self.fold = next(iter(self.encodings.values()))["fold"]
        removal = control is not None and control.properties is not None
        self._properties = self._tensor(control.properties) if removal else None

    def _fold_weights(self, key: tuple, fold: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Device weights of (subject, layer) or (null, subject, layer) at a fold, cached."""
        cached = (*key, fold)
        if cached not in self._weights:
            e = self.encodings[key] if len(key) == 2 else self._null_encodings[key]
            self._weights[cached] = (self._tensor(e[f"weights_{fold}"]),
                                     self._tensor(e[f"intercept_{fold}"]))  # fmt: skip
            if self._properties is not None:
                m = e[f"removal_{fold}"] @ e[f"weights_{fold}"].astype(np.float64)
                mean = e[f"property_mean_{fold}"]
                self._offsets[cached] = (self._tensor(m), self._tensor(mean))
        return self._weights[cached]

    def _target_y(self, y: torch.Tensor, key: tuple, target: Target) -> dict:
        """A head's BOLD at the target plus the removal control's offset at its TR, and the
        offset (BAHead keywords)."""
        if self._properties is None:
            return {"y": y}
        m, mean = self._offsets[(*key, target.fold)]
        offset = (self._properties[target.row] - mean) @ m
        return {"y": y + offset, "offset": offset}

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def heads(self, target: Target) -> list[BAHead]:
        """One head per (subject, layer) in :attr:`keys` order, with the target's BOLD; a
        target in a repeated run then gets one head per presentation (``repeat`` = 1, 2, ...)
        when the readouts were loaded with ``repeats``; then one head per null and (subject,
        layer), ``null`` naming it."""
        out = []
        for s, lay in self.keys:
            w, b = self._fold_weights((s, lay), target.fold)
            out.append(BAHead(s, lay, w, b, **self._target_y(self._y[s][target.row], (s, lay),
                                                             target)))  # fmt: skip
        for s, lay in self.keys:
            w, b = self._fold_weights((s, lay), target.fold)
            for j, y in enumerate(self._repeat_y[s].get(target.row, [])):
                out.append(BAHead(s, lay, w, b, **self._target_y(y, (s, lay), target),
                                  repeat=j + 1))  # fmt: skip
        for null in self.nulls:
            for s, lay in self.keys:
                w, b = self._fold_weights((null, s, lay), target.fold)
                y = (self._null_y if null == "shifted_bold" else self._y)[s][target.row]
                out.append(BAHead(s, lay, w, b, **self._target_y(y, (null, s, lay), target),
                                  null=null))  # fmt: skip
        return out

    def device_bytes(self) -> int:
        """Bytes of everything the heads point into: one copy of the weights per subject x
        layer x fold used so far, and each subject's ROI BOLD (and repeats)."""
        tensors = [t for pair in self._weights.values() for t in pair]
        tensors += list(self._y.values()) + list(self._null_y.values())
        tensors += [t for reps in self._repeat_y.values() for t in reps.values()]
        tensors += [t for pair in self._offsets.values() for t in pair]
        tensors += [] if self._properties is None else [self._properties]
        return sum(t.element_size() * t.nelement() for t in tensors)
