import numpy as np
import pytest
import torch

from brainattr.attribution.core import ig_scales, input_attributions, scatter_words


def test_gxi_and_ig_match_captum():
    captum = pytest.importorskip("captum.attr")
    torch.manual_seed(0)
    w = torch.randn(5, 3, dtype=torch.float64)

    def f(x):  # (batch, tokens, hidden) -> (batch,)
        return torch.tanh(x @ w).pow(2).sum(dim=(1, 2))

    x = torch.randn(1, 4, 5, dtype=torch.float64, requires_grad=True)
    ours = input_attributions(lambda xs: [f(xs[0][None])[0]], [x[0]], "gxi")[0][0]
    ref = captum.InputXGradient(f).attribute(x).sum(-1)[0].detach().numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    ours_ig = input_attributions(lambda xs: [f(xs[0][None])[0]], [x[0]], "ig", steps=20)[0][0]
    ref_ig = (
        captum.IntegratedGradients(f)
        .attribute(x, baselines=torch.zeros_like(x), n_steps=20, method="riemann_middle")
        .sum(-1)[0]
        .detach()
        .numpy()
    )
    np.testing.assert_allclose(ours_ig, ref_ig, rtol=1e-6)  # captum builds its alphas in float32
    # completeness: IG sums to f(x) - f(0) (up to the 20-step quadrature)
    assert ours_ig.sum() == pytest.approx((f(x) - f(torch.zeros_like(x))).item(), rel=1e-2)


def test_ig_scales_are_the_midpoint_rule():
    assert ig_scales("gxi") == [1.0]
    np.testing.assert_allclose(ig_scales("ig", 4), [0.125, 0.375, 0.625, 0.875])
    with pytest.raises(ValueError, match="unknown attribution method 'lrp'; allowed: gxi, ig"):
        ig_scales("lrp")


def test_scatter_words_sums_tokens_inside_the_span_only():
    # two inputs; words 3..6 are the span; word 2 and 7 fall outside
    tw = [np.array([2, 3, 3, 4]), np.array([4, 5, 7])]
    attrs = [np.array([9.0, 1.0, 2.0, 4.0]), np.array([8.0, 16.0, 32.0])]
    np.testing.assert_array_equal(scatter_words(3, 7, tw, attrs), [3.0, 12.0, 16.0, 0.0])
    out = np.ones(4)
    scatter_words(3, 7, tw[:1], attrs[:1], out=out)
    np.testing.assert_array_equal(out, [4.0, 5.0, 1.0, 1.0])
