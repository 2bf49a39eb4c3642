import numpy as np
import pytest

from brainattr.design import pearson_r, zscore_per_run
from brainattr.encoding import encode_subject, fit_ridge_cv


def test_pearson_r_matches_corrcoef():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    b[:, 1] += a[:, 1]
    expected = [np.corrcoef(a[:, i], b[:, i])[0, 1] for i in range(3)]
    np.testing.assert_allclose(pearson_r(a, b), expected)
    assert pearson_r(np.ones((5, 1)), rng.standard_normal((5, 1)))[0] == 0.0


def test_zscore_per_run():
    y = np.array([[1.0], [3.0], [10.0], [20.0]])
    z = zscore_per_run(y, np.array([1, 1, 2, 2]))
    np.testing.assert_allclose(z[:, 0], [-1, 1, -1, 1])


@pytest.mark.parametrize("n_features", [5, 80])  # primal ridge and kernel ridge
def test_ridge_with_one_alpha_is_closed_form(n_features):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, n_features))
    y = rng.standard_normal((40, 3))
    x -= x.mean(0)
    y -= y.mean(0)
    coef, alphas = fit_ridge_cv(x, y, [7.0], inner_folds=4)
    closed = np.linalg.solve(x.T @ x + 7.0 * np.eye(n_features), x.T @ y)
    np.testing.assert_allclose(coef, closed, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(alphas, [7.0, 7.0, 7.0])


def test_alpha_is_chosen_per_voxel():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((120, 10))
    w = rng.standard_normal((10, 1))
    y = np.hstack(
        [
            x @ w + 0.01 * rng.standard_normal((120, 1)),  # clean: small alpha
            rng.standard_normal((120, 1)),
        ]
    )  # noise: large alpha
    x -= x.mean(0)
    y -= y.mean(0)
    _, alphas = fit_ridge_cv(x, y, [1e-3, 1e3, 1e6], inner_folds=5)
    assert alphas[0] == pytest.approx(1e-3) and alphas[1] >= 1e3 * (1 - 1e-9)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_kernel_ridge_cv_equals_himalayas_kernel_ridge_cv(backend):
    """The kernel fits (himalaya's CV, then one refit per voxel's own alpha) against
    himalaya's KernelRidgeCV, which refits every used alpha for every voxel."""
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(11)
    x = rng.standard_normal((72, 150))
    # voxels from clean to pure noise: alphas spread over the grid
    y = (x @ rng.standard_normal((150, 12))) * np.logspace(-2, 1, 12)
    y += rng.standard_normal((72, 12))
    x, y = x - x.mean(0), y - y.mean(0)
    alphas = np.logspace(-2, 6, 9)
    coef, best = fit_ridge_cv(x, y, list(alphas), 4, backend)
    set_backend("numpy")
    ref = KernelRidgeCV(alphas=alphas, kernel="linear", cv=KFold(4)).fit(x, y)
    # himalaya's own alphas come back through exp(-log(1 / alpha)): equal to rounding
    np.testing.assert_allclose(best, ref.best_alphas_, rtol=1e-12)
    assert set(best) <= set(alphas)  # ours are the grid's values themselves
    assert len(np.unique(best)) >= 3  # the refit is per voxel, not one alpha for all
    np.testing.assert_allclose(coef, x.T @ ref.dual_coef_, rtol=1e-7, atol=1e-10)
    # the precomputed-kernel fit (noise ceiling, partition) through the same CV and refit
    from brainattr.encoding import kernel_ridge_cv_predict

    train = np.arange(72) < 54
    kernel = x @ x.T
    pred = kernel_ridge_cv_predict(kernel, y, train, list(alphas), 4, backend)
    set_backend("numpy")
    ref = KernelRidgeCV(alphas=alphas, kernel="precomputed", cv=KFold(4))
    ref.fit(kernel[train][:, train], y[train])
    expected = ref.predict(kernel[~train][:, train])
    np.testing.assert_allclose(pred, expected, rtol=1e-7, atol=1e-10 * np.abs(expected).max())


def test_encode_subject_recovers_a_linear_map_and_folds_the_zscore():
    rng = np.random.default_rng(3)
    n_trs, h = 240, 6
    feats = rng.standard_normal((n_trs, h)) * 3 + 5
    runs = np.repeat([1, 2, 3], 80)
    kept = np.ones(n_trs, dtype=bool)
    kept[[0, 80, 160]] = False
    from brainattr.design import delay_features

    x = delay_features(feats, runs, 2)
    w = rng.standard_normal((2 * h, 4))
    bold = x @ w + 0.1 * rng.standard_normal((n_trs, 4))
    bold = np.hstack([bold, rng.standard_normal((n_trs, 1))])
    roi = np.array([True, True, False, True, True])
    res = encode_subject(feats, bold, runs, kept, 2, [0.1, 1, 10, 100], 4, roi, r_runs=[2])
    assert (res["r"][:4] > 0.9).all() and abs(res["r"][4]) < 0.3
    # held-out r of run 2 alone, against its z-scored BOLD
    run2 = runs[res["rows"]] == 2
    y2 = bold[res["rows"][run2]]
    ref = [np.corrcoef(res["prediction"][run2, v], y2[:, v])[0, 1] for v in range(5)]
    np.testing.assert_allclose(res["r_run_2"], ref, rtol=1e-10)
    # the stored weights predict on raw features exactly as the pipeline did
    rows = res["rows"]
    for k in range(3):
        test = res["fold"] == k
        pred = x[rows[test]] @ res[f"weights_{k}"] + res[f"intercept_{k}"]
        np.testing.assert_allclose(pred, res["prediction"][test][:, roi], rtol=1e-4, atol=1e-4)


def test_auto_backend_follows_the_device(monkeypatch):
    import torch

    from brainattr.encoding import resolve_backend

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_backend("auto") == "numpy"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_backend("auto") == "torch_cuda"
    assert resolve_backend("torch") == "torch"


def test_memory_batches_give_the_same_fit():
    from brainattr.encoding import fit_ridge_cv

    rng = np.random.default_rng(3)
    for p in (20, 200):  # ridge (features < samples) and kernel ridge (features > samples)
        x = rng.standard_normal((90, p))
        y = x @ rng.standard_normal((p, 7)) * 0.1 + rng.standard_normal((90, 7))
        x, y = x - x.mean(0), y - y.mean(0)
        whole = fit_ridge_cv(x, y, [0.1, 10, 1000], 3)
        parts = fit_ridge_cv(x, y, [0.1, 10, 1000], 3, targets_batch=2, alphas_batch=1)
        np.testing.assert_allclose(parts[0], whole[0], rtol=1e-8, atol=1e-10)
        np.testing.assert_array_equal(parts[1], whole[1])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("shape", [(60, 200), (90, 12)])  # kernel ridge, and primal ridge
def test_per_target_alphas_equal_himalayas_solvers(shape, backend):
    """solve_ridge's products against himalaya's per-target solvers (the reference)."""
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import solve_kernel_ridge_eigenvalues
    from himalaya.ridge import solve_ridge_svd

    from brainattr.encoding import solve_ridge

    set_backend("numpy")  # the reference in NumPy (solve_ridge sets the global backend)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    x[:, 1] = x[:, 0]  # a rank-deficient design: a zero eigenvalue
    y = rng.standard_normal((shape[0], 9))
    x, y = x - x.mean(0), y - y.mean(0)
    alphas = np.logspace(-3, 5, 9)
    if shape[1] > shape[0]:
        ref = x.T @ solve_kernel_ridge_eigenvalues(x @ x.T, y, alpha=alphas)
    else:
        ref = solve_ridge_svd(x, y, alpha=alphas)
    ours = solve_ridge(x, y, alphas, backend)
    np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-10 * np.abs(ref).max())
    # each target's own alpha: voxel 0 alone gives the same weights
    np.testing.assert_allclose(solve_ridge(x, y[:, :1], alphas[:1], backend), ours[:, :1])


@pytest.mark.parametrize("h", [6, 100])  # ridge, and kernel ridge (features > training TRs)
def test_refit_roi_weights_equal_the_cv_fit(h):
    from brainattr.encoding import roi_weights

    rng = np.random.default_rng(4)
    n_trs = 240
    feats = rng.standard_normal((n_trs, h)) * 2 + 1
    runs = np.repeat([1, 2, 3], 80)
    kept = np.ones(n_trs, dtype=bool)
    bold = feats[:, :5] @ rng.standard_normal((5, 6)) + rng.standard_normal((n_trs, 6))
    roi = np.array([True, False, True, True, False, True])
    res = encode_subject(feats, bold, runs, kept, 2, [0.1, 10, 1000, 1e5], 4, roi)
    stored = {
        "roi": roi,
        "fold": res["fold"],
        **{f"alphas_{k}": res[f"alphas_{k}"] for k in range(3)},
    }
    refit = roi_weights(feats, bold, runs, kept, 2, stored)
    for k in range(3):
        for name in (f"weights_{k}", f"intercept_{k}"):
            np.testing.assert_allclose(refit[name], res[name], rtol=1e-5, atol=1e-6)


def _one_subject_dataset(folder, features: np.ndarray, bold: np.ndarray) -> None:
    """A three-run dataset of one subject ``s`` (one word per TR) in ``folder/ds``, and its
    layer-1 features in ``folder/f.h5``."""
    import h5py
    import pandas as pd

    from brainattr.dataset import write_dataset

    n_trs = len(bold)
    runs = np.repeat([1, 2, 3], n_trs // 3)
    trs = pd.DataFrame({"tr_index": range(n_trs), "onset": np.arange(n_trs) * 2.0, "run": runs,
                        "kept": True})  # fmt: skip
    onset = np.arange(n_trs) * 2.0 + 0.1
    words = pd.DataFrame({"word_index": range(n_trs), "word": ["a"] * n_trs, "onset": onset,
                          "offset": onset + 0.4, "run": runs})  # fmt: skip
    write_dataset(folder / "ds", "x", 2.0, words, trs, {"s": bold})
    with h5py.File(folder / "f.h5", "w") as f:
        f["layer_1"] = features.astype(np.float32)


def test_encoding_file_holds_no_weights(tmp_path):
    import h5py

    from brainattr.encoding import run_encoding
    from brainattr.tables import read_encoding

    rng = np.random.default_rng(5)
    _one_subject_dataset(tmp_path, rng.standard_normal((90, 8)), rng.standard_normal((90, 7)))
    run_encoding(
        tmp_path / "ds", tmp_path / "f.h5", "s", 1, "all", 2, [1, 100], 3, tmp_path / "e.h5"
    )
    with h5py.File(tmp_path / "e.h5") as f:
        stored = sorted(f)
        assert f["alpha_index_0"].dtype == np.uint8 and f["r"].dtype == np.float32
    assert stored == ["alpha_grid", "alpha_index_0", "alpha_index_1", "alpha_index_2", "fold",
                      "r", "roi", "rows"]  # fmt: skip
    e = read_encoding(tmp_path / "e.h5")
    assert set(np.unique(e["alphas_1"])) <= {1.0, 100.0} and e["alphas_1"].shape == (7,)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("p", [20, 300])  # ridge, and kernel ridge (features > samples)
def test_float32_fit_is_the_float64_fit_in_single_precision(p, backend):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((120, p))
    y = x @ rng.standard_normal((p, 9)) * np.geomspace(0.02, 1, 9) + rng.standard_normal((120, 9))
    x, y = x - x.mean(0), y - y.mean(0)
    alphas = [1e-2, 1, 100, 1e4, 1e6]
    ref, ref_alphas = fit_ridge_cv(x, y, alphas, 3, backend)
    coef, best = fit_ridge_cv(x, y, alphas, 3, backend, dtype="float32")
    assert coef.dtype == np.float32 and ref.dtype == np.float64
    # the grid's values are 100x apart: the same alpha per voxel, and its fit to float32
    np.testing.assert_allclose(np.float64(best), ref_alphas, rtol=1e-6)
    np.testing.assert_allclose(coef, ref, rtol=2e-3, atol=2e-4 * np.abs(ref).max())


def test_a_float32_encoding_records_its_precision_and_matches_float64(tmp_path):
    from brainattr.encoding import run_encoding
    from brainattr.tables import read_encoding

    rng = np.random.default_rng(6)
    feats = rng.standard_normal((150, 40))
    bold = 2 * np.roll(feats[:, :6], 1, axis=0) + rng.standard_normal((150, 6))  # delay 1
    _one_subject_dataset(tmp_path, feats, bold)
    for dtype in ("float64", "float32"):
        run_encoding(tmp_path / "ds", tmp_path / "f.h5", "s", 1, "all", 2, [1, 100, 10000], 3,
                     tmp_path / f"{dtype}.h5", dtype=dtype)  # fmt: skip
    single, double = (read_encoding(tmp_path / f"{d}.h5") for d in ("float32", "float64"))
    assert single["attrs"]["dtype"] == "float32" and double["attrs"]["dtype"] == "float64"
    assert (double["r"] > 0.3).all()
    np.testing.assert_allclose(single["r"], double["r"], atol=1e-5)
    for k in range(3):
        np.testing.assert_array_equal(single[f"alphas_{k}"], double[f"alphas_{k}"])
