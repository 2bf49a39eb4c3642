"""Feature controls of the encoding model, fit within each outer fold's training rows.

A control model entry (``models.<name>.control_of``) reads the features of the model it
controls and changes only what the ridge sees:

- ``pca_components: k`` - the ridge is fit on the first k principal components of the fold's
  z-scored delayed training design (the PCA robustness control of Toneva-style analyses);
- ``remove: [group, ...]`` - each feature is residualised, by least squares on the fold's
  training rows, on the TR property design: per TR the fraction of its words in each named
  word group (``word_groups.tsv``), delayed like the features (Oota et al. 2023's removal of
  a linguistic property).

Both are linear in the z-scored design ``xs``, so a fold's readout still predicts from raw
features: PCA gives coefficients ``V @ c`` on ``xs``; removal predicts
``(xs - (P - p_mean) @ B) @ c``, i.e. the usual readout minus a per-TR offset
``(P_t - p_mean) @ B @ c`` that depends on the TR's properties, not on the model's input.
Attribution therefore uses the usual readout scored against the BOLD plus that offset
(:class:`brainattr.readout.Readouts`): the same loss, so the same gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainattr.dataset import Dataset, read_word_groups, tr_word_ranges
from brainattr.design import delay_features, fold_design


@dataclass(frozen=True)
class FeatureControl:
    """What a control entry changes: ``pca_components`` (0 = none) and the property design
    ``properties`` (n_kept, n_delays * n_groups) of the removed word groups (None = none)."""

    pca_components: int = 0
    properties: np.ndarray | None = None

    def fold_map(self, xs: np.ndarray, train: np.ndarray) -> FoldMap:
        """Fit the control on one fold's z-scored training design ``xs`` (n_train, n_features);
        ``train`` (n_kept,) bool marks those rows among the kept TRs."""
        if self.pca_components:
            if self.pca_components > min(xs.shape):
                raise ValueError(
                    f"pca_components = {self.pca_components}, but a fold's training design has "
                    f"only {min(xs.shape)} components ({xs.shape[0]} rows x {xs.shape[1]} "
                    "delayed features): ask for fewer"
                )
            # right singular vectors of the training rows only: nothing of the test run leaks
            _, _, vt = np.linalg.svd(xs, full_matrices=False)
            return FoldMap(basis=vt[: self.pca_components].T)
        if self.properties is not None:
            p_mean = self.properties[train].mean(axis=0)
            removal, *_ = np.linalg.lstsq(self.properties[train] - p_mean, xs, rcond=None)
            return FoldMap(removal=removal, property_mean=p_mean)
        return FoldMap()


@dataclass(frozen=True)
class FoldMap:
    """One fold's fitted control.

    Attributes
    ----------
    basis : array (n_features, k) or None
        PCA directions of the training design.
    removal : array (n_properties, n_features) or None
        Least-squares map B from centred properties to the z-scored design.
    property_mean : array (n_properties,) or None
        Training mean of the properties.
    """

    basis: np.ndarray | None = None
    removal: np.ndarray | None = None
    property_mean: np.ndarray | None = None

    def design(self, xs: np.ndarray, properties: np.ndarray | None) -> np.ndarray:
        """What the ridge is fit on, from the z-scored design of some rows (n_rows, n_features)
        and, for removal, those rows' properties (n_rows, n_properties)."""
        if self.basis is not None:
            return xs @ self.basis
        if self.removal is not None:
            return xs - (properties - self.property_mean) @ self.removal
        return xs

    def coef(self, coef: np.ndarray) -> np.ndarray:
        """Ridge coefficients on :meth:`design` mapped to the z-scored design's features."""
        return self.basis @ coef if self.basis is not None else coef

    def offset(self, properties: np.ndarray | None, coef: np.ndarray) -> np.ndarray | float:
        """What the readout subtracts from ``xs @ coef`` at rows with these properties,
        (n_rows, n_targets); 0 without removal."""
        if self.removal is None:
            return 0.0
        return (properties - self.property_mean) @ (self.removal @ coef)


def property_design(ds: Dataset, groups: np.ndarray, n_delays: int) -> np.ndarray:
    """Per kept TR the fraction of its words in each group, delayed like the features.

    Parameters
    ----------
    ds : the dataset
    groups : bool array (n_words, n_groups)
    n_delays : int

    Returns
    -------
    properties : array (n_kept, n_delays * n_groups), float64; 0 for a TR without words
    """
    first, stop = tr_word_ranges(ds.word_tr, len(ds.trs))
    cum = np.vstack([np.zeros((1, groups.shape[1])), np.cumsum(groups, axis=0, dtype=np.float64)])
    count = (stop - first)[:, None]
    per_tr = (cum[stop] - cum[first]) / np.maximum(count, 1)
    runs, kept = ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy()
    return delay_features(per_tr, runs, n_delays)[np.flatnonzero(kept)]


def feature_control(
    model: dict, dataset_dir: str | Path, ds: Dataset, n_delays: int, null_seed: int | None = None
) -> FeatureControl | None:
    """The control a model entry asks for (None for a plain model), its property design read
    from the dataset's ``word_groups.tsv``.

    With ``null_seed``, a removal's null instead: the same groups with their word labels
    rolled by a seeded offset (a quarter to three quarters of the story), which keeps each
    group's frequency and run lengths but not which words carry it: the BA that removing
    any property of that size and structure takes away."""
    if model.get("pca_components"):
        return FeatureControl(pca_components=int(model["pca_components"]))
    remove = list(model.get("remove") or [])
    if not remove:
        return None
    where = f"remove = {remove} (a control of model {model.get('control_of')!r})"
    groups = read_word_groups(dataset_dir, len(ds.words))  # names the file when it is absent
    missing = sorted(set(remove) - set(groups.columns[1:]))
    if missing:
        raise ValueError(
            f"{where}: groups {missing} are not in {dataset_dir}/word_groups.tsv, which has "
            f"{list(groups.columns[1:])}; list some of those under 'remove'"
        )
    labels = groups[remove].to_numpy()
    if null_seed is not None:
        n = len(labels)
        shift = np.random.default_rng(null_seed).integers(n // 4, max(n // 4 + 1, 3 * n // 4))
        labels = np.roll(labels, shift, axis=0)
    return FeatureControl(properties=property_design(ds, labels, n_delays))


def control_label(model: dict) -> str:
    """How a model entry's encoding differs from its features' model, in words ("" if not)."""
    if model.get("pca_components"):
        return f"first {model['pca_components']} principal components"
    if model.get("remove"):
        return "word groups " + ", ".join(model["remove"]) + " removed"
    return ""


@dataclass
class FoldFit:
    """One outer fold's readout on raw delayed features: ``weights`` (n_features, n_targets),
    ``intercept`` (n_targets,), the chosen ``alphas``, the fold's ``fold_map`` (the control)
    and the training ``sd`` of each feature."""

    weights: np.ndarray
    intercept: np.ndarray
    alphas: np.ndarray
    fold_map: FoldMap
    sd: np.ndarray

    def predict(self, x: np.ndarray, properties: np.ndarray | None) -> np.ndarray:
        """Predictions of rows of the delayed design (and, for removal, their properties)."""
        pred = x @ self.weights + self.intercept
        if self.fold_map.removal is not None:  # (a second features x voxels array otherwise)
            pred -= self.fold_map.offset(properties, self.weights * self.sd[:, None])
        return pred


def fold_readout(x, y, train, control: FeatureControl | None, solve) -> FoldFit:
    """Fit one fold: z-score the training rows, fit the control on them, solve the ridge on
    the controlled design with ``solve(design, centred_y) -> (coef, alphas)``, and fold the
    z-scoring and the control back into weights on raw features."""
    xs, yc, mu, sd, y_mean = fold_design(x, y, train)
    fmap = control.fold_map(xs, train) if control is not None else FoldMap()
    props = (
        control.properties[train]
        if control is not None and control.properties is not None
        else None
    )
    coef, alphas = solve(fmap.design(xs, props), yc)
    weights = fmap.coef(coef)
    weights /= sd[:, None]  # in place: at MRH's shape a features x voxels array is 6 GB
    return FoldFit(weights, y_mean - mu @ weights, alphas, fmap, sd)
