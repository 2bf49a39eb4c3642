"""brainattr.controls: PCA and property removal within the training folds, on known answers."""

import h5py
import numpy as np
import pandas as pd
import pytest

from brainattr.controls import FeatureControl, feature_control, fold_readout, property_design
from brainattr.design import delay_features, fold_design, zscore_per_run
from brainattr.encoding import encode_subject, solve_ridge


def _ridge(alpha):
    return lambda xd, yc: (solve_ridge(xd, yc, np.full(yc.shape[1], alpha)), alpha)


def _design(rng, n=240, h=12, v=5):
    x = rng.standard_normal((n, h)) @ rng.standard_normal((h, h))  # correlated features
    y = x @ rng.standard_normal((h, v)) + rng.standard_normal((n, v))
    train = np.arange(n) < 160
    return x, y, train


def test_pca_with_every_component_is_the_plain_ridge():
    # ridge is invariant to a rotation of the design: all components = no control
    x, y, train = _design(np.random.default_rng(0))
    plain = fold_readout(x, y, train, None, _ridge(10.0))
    full = fold_readout(x, y, train, FeatureControl(pca_components=x.shape[1]), _ridge(10.0))
    np.testing.assert_allclose(full.weights, plain.weights, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(full.intercept, plain.intercept, rtol=1e-8, atol=1e-10)


def test_pca_asks_for_no_more_components_than_a_fold_has():
    x, y, train = _design(np.random.default_rng(5), n=30, h=12)
    with pytest.raises(ValueError, match=r"pca_components = 13, but .* only 12 components"):
        fold_readout(x, y, train, FeatureControl(pca_components=13), _ridge(1.0))


def test_pca_is_fit_on_the_training_rows_only():
    x, y, train = _design(np.random.default_rng(1))
    control = FeatureControl(pca_components=3)
    fit = fold_readout(x, y, train, control, _ridge(1.0))
    # the test rows may be anything: nothing of them reaches the fold's readout
    x2 = x.copy()
    x2[~train] = np.random.default_rng(2).standard_normal(x2[~train].shape) * 100
    np.testing.assert_array_equal(fold_readout(x2, y, train, control, _ridge(1.0)).weights,
                                  fit.weights)  # fmt: skip
    # the readout lives in the span of the training design's first 3 components
    xs = fold_design(x, y, train)[0]
    v = np.linalg.svd(xs, full_matrices=False)[2][:3].T
    coef = fit.weights * fit.sd[:, None]
    np.testing.assert_allclose(v @ (v.T @ coef), coef, atol=1e-10)
    # and differs from PCA over every row, which would see the test rows
    leaky = np.linalg.svd((x - x.mean(0)) / x.std(0), full_matrices=False)[2][:3].T
    assert not np.allclose(leaky @ (leaky.T @ coef), coef, atol=1e-3)


def test_removal_takes_a_planted_property_out_of_ba():
    """Features carry a property that alone drives the BOLD: plain BA is high; with the
    property regressed out within the training folds BA falls to chance, and the
    residualised training design is orthogonal to the training properties."""
    rng = np.random.default_rng(3)
    n_trs, h, runs = 300, 16, np.repeat([1, 2, 3], 100)
    prop = rng.random((n_trs, 2))
    features = prop @ rng.standard_normal((2, h)) + 0.5 * rng.standard_normal((n_trs, h))
    properties = delay_features(prop, runs, 2)
    bold = properties @ rng.standard_normal((4, 6)) + 0.3 * rng.standard_normal((n_trs, 6))
    kept, roi = np.ones(n_trs, bool), np.ones(6, bool)
    args = (features, bold, runs, kept, 2, [0.1, 10.0, 1000.0], 3, roi)
    plain = encode_subject(*args)
    removed = encode_subject(*args, control=FeatureControl(properties=properties))
    assert plain["r"].mean() > 0.6, plain["r"]
    assert abs(removed["r"].mean()) < 0.15, removed["r"]
    train = runs != 1
    x = delay_features(features, runs, 2).astype(np.float64)
    xs = fold_design(x, bold, train)[0]
    fmap = FeatureControl(properties=properties).fold_map(xs, train)
    resid = fmap.design(xs, properties[train])
    centred = properties[train] - properties[train].mean(0)
    np.testing.assert_allclose(centred.T @ resid, 0, atol=1e-8)


def test_removal_readout_is_the_usual_readout_minus_a_per_tr_offset():
    rng = np.random.default_rng(4)
    x, y, train = _design(rng)
    props = rng.random((len(x), 3))
    control = FeatureControl(properties=props)
    fit = fold_readout(x, y, train, control, _ridge(5.0))
    xs, yc, mu, sd, y_mean = fold_design(x, y, train)
    fmap = control.fold_map(xs, train)
    coef = solve_ridge(fmap.design(xs, props[train]), yc, np.full(y.shape[1], 5.0))
    test = ~train
    direct = fmap.design((x[test] - mu) / sd, props[test]) @ coef + y_mean
    np.testing.assert_allclose(fit.predict(x[test], props[test]), direct, rtol=1e-8)


def test_property_design_is_the_fraction_of_each_trs_words_delayed():
    from brainattr.dataset import Dataset

    words = pd.DataFrame({"word_index": range(6), "word": list("abcdef"),
                          "onset": [0.1, 0.6, 2.1, 6.1, 6.6, 7.1], "offset": 0.0,
                          "run": 1})  # fmt: skip
    trs = pd.DataFrame({"tr_index": range(4), "onset": [0.0, 2.0, 4.0, 6.0], "run": 1,
                        "kept": [1, 1, 1, 1]})  # fmt: skip
    ds = Dataset("d", 2.0, words, trs, ["s"])
    groups = np.array([[1, 0], [0, 0], [1, 1], [1, 0], [0, 1], [0, 1]], bool)
    # TR 0: words a, b; TR 1: c; TR 2: none; TR 3: d, e, f
    per_tr = np.array([[0.5, 0.0], [1.0, 1.0], [0.0, 0.0], [1 / 3, 2 / 3]])
    np.testing.assert_allclose(property_design(ds, groups, 1), np.vstack([[0, 0], per_tr[:3]]))
    two = property_design(ds, groups, 2)
    np.testing.assert_allclose(two[3], [0.0, 0.0, 1.0, 1.0])  # TR 2 then TR 1


def test_readout_heads_carry_the_removal_offset(tiny_run, tmp_path):
    """The attribution heads of a removal control score the usual readout against the BOLD
    plus the TR's offset: the same residual as the residualised readout of encode_subject."""
    import torch

    from brainattr.dataset import read_dataset, read_responses
    from brainattr.design import delayed_design
    from brainattr.encoding import run_encoding
    from brainattr.readout import Readouts
    from brainattr.tables import read_features
    from brainattr.targets import eligible_targets
    from brainattr.windows import StoryWindows

    model = {"control_of": "tiny", "remove": ["function"]}
    path = str(tmp_path / "enc.h5")
    run_encoding(tiny_run["data"], tiny_run["features"], "sub-01", 2, "language", 4,
                 [1.0, 100.0], 2, path, model=model)  # fmt: skip
    ds = read_dataset(tiny_run["data"])
    readouts = Readouts({("sub-01", 2): path}, tiny_run["features"], tiny_run["data"], ds,
                        torch.float64, torch.device("cpu"), model=model)  # fmt: skip
    runs, kept = ds.trs["run"].to_numpy(), ds.trs["kept"].to_numpy()
    x = delayed_design(read_features(tiny_run["features"], 2), runs, kept, 4)
    bold, _ = read_responses(tiny_run["data"], "sub-01")
    control = feature_control(model, tiny_run["data"], ds, 4)
    res = encode_subject(read_features(tiny_run["features"], 2), bold, runs, kept, 4,
                         [1.0, 100.0], 2, readouts.encodings[("sub-01", 2)]["roi"],
                         control=control)  # fmt: skip
    y = zscore_per_run(bold[kept.astype(bool)].astype(np.float64), runs[kept.astype(bool)])
    roi = readouts.encodings[("sub-01", 2)]["roi"]
    targets = eligible_targets(ds, StoryWindows.of_dataset(ds, 6), 4, readouts.fold)
    offsets = []
    for target in targets[::7]:
        head = readouts.heads(target)[0]
        usual = x[target.row] @ head.weights.numpy() + head.intercept.numpy()
        residual = res["prediction"][target.row, roi] - y[target.row, roi]
        np.testing.assert_allclose(usual - head.y.numpy(), residual, rtol=1e-4, atol=1e-6)
        offsets.append(np.abs(head.y.numpy() - y[target.row, roi]).max())
        # the offset is kept beside y: masking's r compares prediction - offset with the BOLD
        np.testing.assert_allclose((head.y - head.offset).numpy(), y[target.row, roi])
    assert max(offsets) > 1e-3  # the offset is there, not a no-op
    with h5py.File(path) as f:  # the removal's null was fit beside it
        assert f.attrs["control"] == "word groups function removed"
        assert f["r_removal_null"].shape == f["r"].shape
        assert np.isfinite(f.attrs["mean_ba_null"])


def test_removal_null_rolls_the_groups_over_the_words(tiny_run):
    from brainattr.dataset import read_dataset

    ds = read_dataset(tiny_run["data"])
    model = {"control_of": "tiny", "remove": ["function", "names"]}
    real = feature_control(model, tiny_run["data"], ds, 4)
    null = feature_control(model, tiny_run["data"], ds, 4, null_seed=0)
    assert null.properties.shape == real.properties.shape
    assert not np.allclose(null.properties, real.properties)
    again = feature_control(model, tiny_run["data"], ds, 4, null_seed=0)
    np.testing.assert_array_equal(again.properties, null.properties)  # seeded
    with pytest.raises(ValueError, match=r"groups \['verbs'\] are not in .*word_groups.tsv"):
        feature_control({"control_of": "tiny", "remove": ["verbs"]}, tiny_run["data"], ds, 4)
