import numpy as np
import pytest

from brainattr.encoding import encode_subject, fit_ridge_cv, pearson_r, zscore_per_run


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


def test_encode_subject_recovers_a_linear_map_and_folds_the_zscore():
    rng = np.random.default_rng(3)
    n_trs, h = 240, 6
    feats = rng.standard_normal((n_trs, h)) * 3 + 5
    runs = np.repeat([1, 2, 3], 80)
    kept = np.ones(n_trs, dtype=bool)
    kept[[0, 80, 160]] = False
    from brainattr.features import delay_features

    x = delay_features(feats, runs, 2)
    w = rng.standard_normal((2 * h, 4))
    bold = x @ w + 0.1 * rng.standard_normal((n_trs, 4))
    bold = np.hstack([bold, rng.standard_normal((n_trs, 1))])
    roi = np.array([True, True, False, True, True])
    res = encode_subject(feats, bold, runs, kept, 2, [0.1, 1, 10, 100], 4, roi)
    assert (res["r"][:4] > 0.9).all() and abs(res["r"][4]) < 0.3
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
