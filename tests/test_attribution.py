import numpy as np
import pandas as pd
import pytest
import torch

from brainattr.attribution import (
    BAHead,
    Target,
    ba_word_scores,
    eligible_targets,
    input_attributions,
    nwp_word_scores,
    run_attribution,
    sample_targets,
)
from brainattr.dataset import Dataset, tr_word_ranges

WORDS = (
    "Every autumn the fog came early to Saltmere and every autumn Marta climbed the hill "
    "behind the harbour to light the old lantern Nobody had asked her to do it"
).split()
WORD_TR = np.repeat(np.arange(8), 4)[: len(WORDS)]  # 4 words per TR, TRs 0..7
CONTEXT = 3


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


def _target() -> Target:
    # target TR 6: delays 5,4,3,2; W_{t-4} = W_2 starts CONTEXT words before word 8
    return Target(
        tr=6,
        row=0,
        fold=0,
        delay_trs=[5, 4, 3, 2],
        span_start=8 - CONTEXT,
        span_stop=24,
        next_word=24,
    )


def _naive_ba(lm, target, layer, weights, intercept, y, scale=1.0):
    """The literal loss for one target and one subject, built from scratch; its gradient at
    the embeddings scaled by ``scale``, times the unscaled embeddings, summed per word."""
    emb = lm.model.get_input_embeddings()
    first, stop = tr_word_ranges(WORD_TR, 8)
    leaves, owners, preds = [], [], []
    for s in target.delay_trs:
        start = max(0, first[s] - CONTEXT)
        ids, owner = [], []
        for i in range(start, stop[s]):
            t = lm.tokenizer(" " + WORDS[i], add_special_tokens=False)["input_ids"]
            ids += t
            owner += [i] * len(t)
        x = (emb(torch.tensor([ids])) * scale).detach().requires_grad_(True)
        hs = lm.model(inputs_embeds=x, output_hidden_states=True).hidden_states[layer][0]
        owner = np.array(owner)
        word_states = [hs[owner == i].mean(0) for i in range(first[s], stop[s])]
        preds.append(torch.stack(word_states).mean(0))
        leaves.append(x)
        owners.append(owner)
    y_hat = torch.cat(preds) @ weights + intercept
    loss = ((y_hat - y) ** 2).mean()
    grads = torch.autograd.grad(loss, leaves)
    scores = np.zeros(len(WORDS))
    for x, g, owner in zip(leaves, grads, owners, strict=True):
        np.add.at(scores, owner, (x / scale * g).sum(-1)[0].detach().numpy())
    return scores[target.span_start : target.span_stop]


def test_ba_gxi_equals_naive_autograd(tiny_lm):
    rng = np.random.default_rng(0)
    h = tiny_lm.embedding.weight.shape[1]
    heads = []
    for layer in (1, 3):
        heads.append(
            BAHead(
                "s1",
                layer,
                torch.tensor(rng.standard_normal((4 * h, 6))),
                torch.tensor(rng.standard_normal(6)),
                torch.tensor(rng.standard_normal(6)),
            )
        )
    first, stop = tr_word_ranges(WORD_TR, 8)
    tgt = _target()
    fast = ba_word_scores(tiny_lm, WORDS, tgt, heads, CONTEXT, first, stop, "gxi")
    for head, got in zip(heads, fast, strict=True):
        ref = _naive_ba(tiny_lm, tgt, head.layer, head.weights, head.intercept, head.y)
        assert np.abs(ref).max() > 0
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())


@pytest.mark.parametrize("batch_tokens", [None, 1])  # all steps in one pass; one step per pass
def test_ba_ig_with_batched_steps_equals_naive_autograd(tiny_lm, batch_tokens):
    rng = np.random.default_rng(1)
    h = tiny_lm.embedding.weight.shape[1]
    heads = [
        BAHead("s1", layer, *(torch.tensor(rng.standard_normal(sh)) for sh in ((4 * h, 5), 5, 5)))
        for layer in (2, 3)
    ]
    first, stop = tr_word_ranges(WORD_TR, 8)
    tgt, steps = _target(), 4
    got = ba_word_scores(tiny_lm, WORDS, tgt, heads, CONTEXT, first, stop, "ig", steps,
                         batch_tokens=batch_tokens)  # fmt: skip
    for head, scores in zip(heads, got, strict=True):
        ref = np.mean(
            [
                _naive_ba(tiny_lm, tgt, head.layer, head.weights, head.intercept, head.y, a)
                for a in (np.arange(steps) + 0.5) / steps
            ],
            axis=0,
        )
        np.testing.assert_allclose(scores, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())


def test_nwp_gxi_equals_naive_autograd(tiny_lm):
    tgt = _target()
    got = nwp_word_scores(tiny_lm, WORDS, tgt, "gxi")
    ids, owner = [], []
    for i in range(tgt.span_start, tgt.next_word + 1):
        t = tiny_lm.tokenizer(" " + WORDS[i], add_special_tokens=False)["input_ids"]
        ids += t
        owner += [i] * len(t)
    owner = np.array(owner)
    x = tiny_lm.model.get_input_embeddings()(torch.tensor([ids])).detach().requires_grad_(True)
    logits = tiny_lm.model(inputs_embeds=x).logits[0]
    pos = np.flatnonzero(owner == tgt.next_word)
    loss = torch.stack(
        [torch.nn.functional.cross_entropy(logits[p - 1], torch.tensor(ids[p])) for p in pos]
    ).mean()
    (g,) = torch.autograd.grad(loss, x)
    tok = (x * g).sum(-1)[0].detach().numpy()
    ref = np.zeros(len(WORDS))
    np.add.at(ref, owner, tok)
    np.testing.assert_allclose(got, ref[tgt.span_start : tgt.span_stop], rtol=1e-6)


def test_ig_scores_differ_from_gxi_but_share_the_span(tiny_lm):
    tgt = _target()
    gxi = nwp_word_scores(tiny_lm, WORDS, tgt, "gxi")
    ig = nwp_word_scores(tiny_lm, WORDS, tgt, "ig", steps=4)
    assert gxi.shape == ig.shape and not np.allclose(gxi, ig)


def _toy_dataset(runs_continue: bool = True) -> Dataset:
    n_trs = 12
    word_tr = [2, 2, 3, 3, 4, 5, 5, 6, 8, 9, 9, 10]
    words = pd.DataFrame(
        {
            "word_index": range(12),
            "word": list("abcdefghijkl"),
            "onset": [2.0 * t + 0.5 * (i % 2) for i, t in enumerate(word_tr)],
            "offset": 0.0,
            "run": [1] * 8 + [2] * 4,
        }
    )
    words["offset"] = words["onset"] + 0.5
    trs = pd.DataFrame(
        {
            "tr_index": range(n_trs),
            "onset": np.arange(n_trs) * 2.0,
            "run": [1] * 7 + [2] * 5,
            "kept": True,
        }
    )
    return Dataset("toy", 2.0, words, trs, ["s"], {"runs_continue": runs_continue})


def test_eligible_targets_by_hand():
    ds = _toy_dataset()
    np.testing.assert_array_equal(ds.word_tr, [2, 2, 3, 3, 4, 5, 5, 6, 8, 9, 9, 10])
    targets = eligible_targets(ds, context_words=2, n_delays=2, fold=np.zeros(12, int))
    # t needs t-1, t-2 in its run, words in t-1, and a next word after t-1
    # TR 11 is out: its TR t-1 = 10 holds the story's last word, so no next word
    assert [t.tr for t in targets] == [3, 4, 5, 6, 9, 10]
    t5 = targets[2]
    assert t5.delay_trs == [4, 3] and (t5.span_start, t5.span_stop, t5.next_word) == (0, 5, 5)
    np.testing.assert_array_equal(t5.distance(np.arange(0, 5)), [4, 3, 2, 1, 0])
    t10 = targets[-1]  # windows reach back across the run border: the story is continuous
    assert t10.delay_trs == [9, 8]
    assert (t10.span_start, t10.span_stop, t10.next_word) == (6, 11, 11)
    # separate stories: the context stops at the first word of TR 10's story (word 8)
    stories = eligible_targets(_toy_dataset(False), 2, 2, np.zeros(12, int))
    assert (stories[-1].span_start, stories[-1].span_stop) == (8, 11)
    assert sample_targets(targets, 3, seed=1) == sample_targets(targets, 3, seed=1)
    assert len(sample_targets(targets, 0, seed=1)) == len(targets)


def test_repeat_targets_map_kept_rows_to_each_presentation():
    from brainattr.attribution import repeat_targets

    kept_runs = np.array([1, 1, 1, 2, 2, 2, 2])
    rep = np.stack([np.arange(12.0).reshape(4, 3), -(np.arange(12.0).reshape(4, 3) ** 2)])
    roi = np.array([True, False, True])
    out = repeat_targets(kept_runs, {2: rep}, roi)
    assert sorted(out) == [3, 4, 5, 6]  # the kept rows of run 2
    z0 = (rep[0] - rep[0].mean(0)) / rep[0].std(0)
    z1 = (rep[1] - rep[1].mean(0)) / rep[1].std(0)
    np.testing.assert_allclose(out[4], np.stack([z0[1, roi], z1[1, roi]]))
    with pytest.raises(ValueError, match="run 1: 4 repeated TRs but 3 kept"):
        repeat_targets(kept_runs, {1: rep}, roi)


def test_run_attribution_ig_engines_agree_end_to_end(tmp_path, tiny_spec):
    """The attribution stage with IG: per_target (steps batched per target, BA and NWP) and
    shared give the same scores, and targets in the repeated run get per-repeat scores."""
    import pandas as pd

    from brainattr.demo import make_demo_dataset
    from brainattr.encoding import run_encoding
    from brainattr.features import run_features
    from brainattr.layers import run_layer_selection

    params = dict(n_runs=3, tr=2.0, word_seconds=0.5, rest_before_seconds=20.0,
                  rest_after_seconds=10.0, n_subjects=1, n_voxels=12, driver_voxel_fraction=0.75,
                  snr=1.0, max_words=240, n_repeats=2)  # fmt: skip
    data = tmp_path / "data"
    make_demo_dataset(data, params, seed=0)
    feats = tmp_path / "features.h5"
    run_features(data, tiny_spec, 6, feats, device="cpu")
    enc = {}
    for layer in (1, 2, 3):
        enc[("sub-01", layer)] = str(tmp_path / f"enc{layer}.h5")
        run_encoding(
            data, feats, "sub-01", layer, "language", 4, [1.0, 100.0], 2, enc[("sub-01", layer)]
        )
    run_layer_selection(list(enc.values()), feats, tmp_path / "layers.tsv")
    out = {}
    for engine in ("per_target", "shared"):
        paths = [
            tmp_path / f"{engine}_{n}" for n in ("scores.parquet", "targets.tsv", "rep.parquet")
        ]
        run_attribution(data, tiny_spec, 6, tmp_path / "layers.tsv", enc, feats, 4, "ig", 3, 10, 0,
                        paths[0], paths[1], device="cpu", batch_tokens=256, engine=engine,
                        out_repeat_scores=paths[2])  # fmt: skip
        out[engine] = (pd.read_parquet(paths[0]), pd.read_parquet(paths[2]))
    a, b = out["per_target"][0], out["shared"][0]
    assert set(a["method"]) == {"ig"} and len(a) == len(b)
    np.testing.assert_allclose(
        a["score"], b["score"], rtol=1e-6, atol=1e-9 * a["score"].abs().max()
    )
    rep = out["per_target"][1]
    assert set(rep["repeat"]) == {1, 2}
    np.testing.assert_allclose(rep["score"], out["shared"][1]["score"], rtol=1e-6,
                               atol=1e-9 * rep["score"].abs().max())  # fmt: skip
