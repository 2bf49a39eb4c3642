"""Dependence-aware inference over attribution targets (NumPy only).

The unit is the target TR. Neighbouring targets share most of their span, every subject's BA
context of a target pairs with the same NWP context, and the architecture alone shapes
attributions; contexts are therefore not independent, and a t-test over contexts (the paper's)
is liberal. Here every comparison first reduces to one value per target (BA averaged over
subjects), then:

- **blocks**: targets are grouped into blocks of ``block_trs`` consecutive TRs of one run,
  by default three spans (a span: the TRs that a target's words occupy). Targets closer than a
  span share words; with one-span blocks neighbouring blocks still correlate (~0.25) and the
  test rejects 10-12 % of simulated nulls, with two spans 6-7.5 %, with three 4-6 % (measured:
  README, Benchmark);
- **p**: block sign-flip permutation of the per-target differences (H0: the difference is
  symmetric about 0; every target of a block flips together), two-sided;
- **interval**: block bootstrap (blocks resampled with replacement), percentile 95 % CI of the
  mean difference;
- **q**: Benjamini-Hochberg across the family a table reports.

Both keep the dependence inside a block intact; their calibration on simulated nulls with the
project's dependence structure is tested (tests/test_inference.py) and measured
(``benchmarks/bench_inference.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


def target_blocks(target_tr: np.ndarray, runs: np.ndarray, block_trs: int) -> np.ndarray:
    """Block label of each target: consecutive windows of ``block_trs`` TRs within a run.

    Parameters
    ----------
    target_tr : array of int, shape (n_targets,)
    runs : array, shape (n_targets,)
        Run (story) of each target; a block never spans two runs.
    block_trs : int

    Returns
    -------
    blocks : array of int, shape (n_targets,)
        0..n_blocks-1 in story order.
    """
    target_tr = np.asarray(target_tr)
    if block_trs < 1:
        raise ValueError(f"block_trs must be >= 1, got {block_trs}")
    keys = list(zip(np.asarray(runs).tolist(), (target_tr // block_trs).tolist(), strict=True))
    order = {k: i for i, k in enumerate(sorted(set(keys)))}
    return np.array([order[k] for k in keys], dtype=int)


def span_trs(context_words: int, words_per_tr: float, n_delays: int) -> int:
    """TRs covered by one target's span: its L context words and the D delay TRs."""
    return int(np.ceil(context_words / max(words_per_tr, 1e-9))) + n_delays


# blocks of three spans: calibrated (see the module docstring)
DEFAULT_BLOCK_SPANS = 3.0


def bootstrap_counts(blocks: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """How often each target is drawn when whole blocks are resampled with replacement.

    Parameters
    ----------
    blocks : array of int, shape (n_targets,)
        From :func:`target_blocks`.
    n_resamples : int
    seed : int or Generator

    Returns
    -------
    counts : array of float, shape (n_resamples, n_targets)
        A statistic's bootstrap value is its weighted value with these weights.
    """
    _, inv = np.unique(np.asarray(blocks), return_inverse=True)
    k = int(inv.max()) + 1 if inv.size else 0
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, k, size=(n_resamples, k))
    drawn = np.zeros((n_resamples, k))
    np.add.at(drawn, (np.arange(n_resamples)[:, None], pick), 1.0)
    return drawn[:, inv]


@dataclass(frozen=True)
class BlockResult:
    effect: float  # mean over targets of the difference
    ci_low: float
    ci_high: float
    p: float
    n_targets: int
    n_blocks: int


def block_test(
    diff: np.ndarray, blocks: np.ndarray, n_resamples: int = 2000, seed: int = 0
) -> BlockResult:
    """Mean per-target difference, block-bootstrap 95 % CI and block sign-flip p.

    Parameters
    ----------
    diff : array of shape (n_targets,)
        One value per target (e.g. BA averaged over subjects minus NWP); NaN targets dropped.
    blocks : array of int, shape (n_targets,)
        From :func:`target_blocks`.
    n_resamples : int
        Bootstrap resamples and sign flips (with fewer than ~11 blocks every sign pattern is
        enumerated instead, the exact permutation p).
    seed : int

    Returns
    -------
    BlockResult
    """
    diff, blocks = np.asarray(diff, dtype=float), np.asarray(blocks)
    keep = np.isfinite(diff)
    diff, blocks = diff[keep], blocks[keep]
    n = diff.size
    if n == 0:
        return BlockResult(np.nan, np.nan, np.nan, np.nan, 0, 0)
    labels, inv = np.unique(blocks, return_inverse=True)
    k = labels.size
    sums = np.bincount(inv, weights=diff, minlength=k)
    observed = sums.sum() / n
    rng = np.random.default_rng(seed)
    # bootstrap: resample blocks with replacement; the mean over the resampled targets
    counts = bootstrap_counts(inv, n_resamples, rng)
    boot = counts @ diff / counts.sum(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    # sign flips of whole blocks: exact when the patterns are few
    if 2**k <= n_resamples:
        signs = 1 - 2 * ((np.arange(2**k)[:, None] >> np.arange(k)) & 1)
        flipped = signs @ sums / n
        p = float(np.mean(np.abs(flipped) >= abs(observed) - 1e-12))
    else:
        signs = rng.choice([-1.0, 1.0], size=(n_resamples, k))
        flipped = signs @ sums / n
        p = float((1 + np.sum(np.abs(flipped) >= abs(observed) - 1e-12)) / (1 + n_resamples))
    return BlockResult(float(observed), float(lo), float(hi), p, n, k)


def paper_ttest(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The paper's test: paired two-sided t-test over contexts as if independent (t, p)."""
    res = stats.ttest_rel(a, b)
    return float(res.statistic), float(res.pvalue)


def bh_fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (NaN p stay NaN)."""
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    pv = p[ok]
    n = pv.size
    if n:
        order = np.argsort(pv)
        ranked = pv[order] * n / np.arange(1, n + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        out = np.empty(n)
        out[order] = np.minimum(ranked, 1.0)
        q[ok] = out
    return q


def _moving_sum(n: int, span: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance moving sums of ``span`` iid values: neighbours within ``span`` overlap."""
    c = np.cumsum(np.r_[0.0, rng.standard_normal(n + span)])
    return (c[span : span + n] - c[:n]) / np.sqrt(span)


def simulate_paired_null(
    n_targets: int,
    n_subjects: int,
    span: int,
    rng: np.random.Generator,
    effect: float = 0.0,
    subject_sd: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated BA and NWP per-context values with the project's dependence structure.

    Targets are consecutive TRs of one story whose spans cover ``span`` TRs, so the values of
    targets closer than ``span`` share words: each task's target-level value is a moving sum
    over the span's TRs (correlation falling linearly to 0 at lag ``span``). The NWP value of
    target t is shared by every subject's BA context of t; BA - NWP is a target-level part of
    the same kind plus independent subject noise, plus ``effect`` (0: the null).

    Returns
    -------
    ba : array (n_subjects, n_targets)
    nwp : array (n_targets,)
    """
    nwp = 10 + _moving_sum(n_targets, span, rng)
    shared = _moving_sum(n_targets, span, rng)
    ba = nwp + effect + shared + subject_sd * rng.standard_normal((n_subjects, n_targets))
    return ba, nwp


def calibration(
    n_sims: int = 400,
    n_targets: int = 200,
    n_subjects: int = 8,
    span: int = 12,
    block_spans: float = 2.0,
    effect: float = 0.0,
    alpha: float = 0.05,
    n_resamples: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Rejection rates of the block test and of the paper's test on simulated data
    (:func:`simulate_paired_null`, blocks of ``block_spans`` spans).

    With ``effect`` 0 the rates are the type-I errors; otherwise the power.
    """
    rng = np.random.default_rng(seed)
    block_trs = max(1, round(block_spans * span))
    blocks = target_blocks(np.arange(n_targets), np.zeros(n_targets), block_trs)
    ours = paper = 0
    for i in range(n_sims):
        ba, nwp = simulate_paired_null(n_targets, n_subjects, span, rng, effect)
        ours += block_test(ba.mean(0) - nwp, blocks, n_resamples, seed + i).p < alpha
        contexts_nwp = np.broadcast_to(nwp, ba.shape).ravel()
        paper += paper_ttest(ba.ravel(), contexts_nwp)[1] < alpha
    return {"block": ours / n_sims, "paper": paper / n_sims}
