"""Stage ``masking``: replace a context's most important words and measure what BA and NWP lose.

For each target and each of ``n_seeds`` replacement seeds, the variants of
:func:`brainattr.masks.target_variants` (top words of each task and head, their
distance-matched controls, uniform random words) replace ``n_masked`` span words
(``mask_fraction`` of the span, at least one) with story words drawn by frequency. The BA
prediction of every head is recomputed through the target's delay windows and its frozen ridge
(a window that holds no masked word keeps its unmasked state), and the NWP cross-entropy
through the same span. Variants that mask the same words share one forward pass.

Two tables (:data:`brainattr.tables.MASKING_TARGETS`, :data:`brainattr.tables.MASKING`):

- per target: each head's BA loss (mean squared error over ROI voxels, the loss the
  attribution explains) and the NWP cross-entropy, averaged over seeds, with ``n_masked``;
  the brain-free nulls' heads (column ``null``) mask their own top words. The statistics stage
  tests these per target with dependence-aware intervals;
- per head (fitted readouts): BA as the paper measures it, the mean over ROI voxels of r
  across targets (averaged over seeds), its change and relative change, with a block-bootstrap
  95 % interval of the relative change (blocks of targets as in
  :class:`brainattr.statistics.StoryBlocks`); NWP's mean cross-entropy likewise.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainattr.attribution.core import next_word_loss, next_word_positions
from brainattr.attribution.nwp import nwp_inputs
from brainattr.dataset import read_dataset
from brainattr.inference import bootstrap_counts
from brainattr.masking_tables import head_table, per_target_table
from brainattr.masks import masked_words, n_masked_words, replacement_words, target_variants
from brainattr.models import hidden_states, lm_logits, load_model, pad_batch
from brainattr.progress import Progress
from brainattr.readout import Readouts, readout
from brainattr.statistics import StoryBlocks
from brainattr.tables import (
    FINAL,
    MASKING,
    MASKING_TARGETS,
    NULL_SCORES,
    SCORES,
    TARGETS_PER_CHUNK,
    read_score_chunks,
    write_table,
)
from brainattr.targets import read_targets
from brainattr.windows import StoryWindows, batches, pooled_states

NWP_KEY = ("", "", -1)
_Tokens = namedtuple("_Tokens", "n_tokens")  # what batches() reads of a pass


def _masked_states(lm, windows, tgt, base, texts, layers, batch_tokens):
    """Delay-window states of each masked text; a window holding no masked word keeps the
    unmasked state from ``base`` = (windows, states (n_present, n_layers, hidden)), and texts
    of one seed that mask the same words inside a window share its pass (one seed's
    replacements are shared by all its masks, so the window's text is the same).

    ``texts``: {(seed, positions): (story words with the mask applied, masked absolute word
    positions)}. Returns {key: (windows, states)}.
    """
    base_windows, base_states = base
    todo, slot, where = [], {}, {}
    for key, (words, absolute) in texts.items():
        for d, w in enumerate(base_windows):
            inside = () if w is None else tuple(a for a in absolute if w.start <= a < w.stop)
            if not inside:
                continue
            pass_key = (key[0], d, inside)
            if pass_key not in slot:
                slot[pass_key] = len(todo)
                todo.append(windows.window(lm, tgt.delay_trs[d], words))
            where[(key, d)] = slot[pass_key]
    computed: list[torch.Tensor] = [base_states[0]] * len(todo)
    for batch in batches(todo, batch_tokens):
        states = pooled_states(lm, [todo[i] for i in batch], layers)
        for j, i in enumerate(batch):
            computed[i] = states[j]
    out = {}
    present = [d for d, w in enumerate(base_windows) if w is not None]
    for key in texts:
        wins = [todo[where[(key, d)]] if (key, d) in where else w
                for d, w in enumerate(base_windows)]  # fmt: skip
        rows = [computed[where[(key, d)]] if (key, d) in where else base_states[k]
                for k, d in enumerate(present)]  # fmt: skip
        out[key] = (wins, torch.stack(rows))
    return out


def _cross_entropies(lm, texts: list[list[str]], tgt, batch_tokens: int) -> list[float]:
    """NWP cross-entropy of the target's next word after each text's span; the LM head is
    applied only where the next word's tokens are predicted (vocabulary-sized logits at every
    position of a batch would dominate memory)."""
    inputs = [nwp_inputs(lm, words, tgt) for words in texts]
    out = [0.0] * len(inputs)
    for batch in batches([_Tokens(int(ids.shape[0])) for ids, _ in inputs], batch_tokens):
        embeds, mask = pad_batch([lm.embed(inputs[i][0]) for i in batch])
        final = hidden_states(lm, embeds, mask)[-1]
        for j, i in enumerate(batch):
            ids, tw = inputs[i]
            pos = next_word_positions(tw, tgt.next_word)
            logits = lm_logits(lm, final[j, pos - 1])
            out[i] = float(next_word_loss(logits, ids.to(logits.device)[pos]))
    return out


def _target_plan(tgt, words, heads_of, by_ctx, nwp_scores, settings):
    """Variants of one target over every seed, and the masked texts they need."""
    span = words[tgt.span_start : tgt.span_stop]
    ba = {k: by_ctx[(*k, tgt.tr)] for k in heads_of}
    # mask positions index the span: scores of another span would shift every mask
    lengths = {len(nwp_scores), *(len(v) for v in ba.values())}
    if lengths != {len(span)}:
        raise ValueError(f"target TR {tgt.tr}: scores over {sorted(lengths)} words, but its "
                         f"span in targets.tsv has {len(span)}; rerun attribution")  # fmt: skip
    # the faithfulness stage masks exactly k words; masking (k = 0), its fraction of the span
    k = int(settings.get("n_masked") or 0)
    if k and 2 * k > len(span):  # no room for k distance-matched words beside the top k
        return k, [], {}
    n_masked = k or n_masked_words(settings["mask_fraction"], len(span))
    plan, texts = [], {}
    for i in range(int(settings["n_seeds"])):
        # one generator per (seed, replacement seed, target): a target's masks do not depend
        # on which other targets the job holds
        rng = np.random.default_rng([settings["seed"], i, tgt.tr])
        repl = replacement_words(words, span, rng)
        for v in target_variants(ba, nwp_scores, n_masked, rng):
            plan.append((i, v))
            key = (i, v.positions)
            if key not in texts:
                new = masked_words(span, np.array(v.positions, dtype=int), repl)
                full = words[: tgt.span_start] + new + words[tgt.span_stop :]
                texts[key] = (full, [tgt.span_start + p for p in v.positions])
    return n_masked, plan, texts


def _needs_nwp(v) -> bool:
    """NWP is scored on its own masks, the random control and the fitted heads' BA-top words."""
    return v.mask != "ba_matched" and (v.key is None or (v.mask == "ba_top" and not v.key[0]))


def score_contexts(dataset_dir, lm, context_words, inputs, targets, encoding_paths,
                    features_path, settings, model_spec):  # fmt: skip
    """Run every variant of every target (:class:`_Results`, and the encodings' delays);
    ``inputs``: the :class:`TargetScores`."""
    ds = read_dataset(dataset_dir)
    layers = inputs.layers
    readouts = Readouts(
        {k: v for k, v in encoding_paths.items() if k[1] in layers}, features_path, dataset_dir,
        ds, lm.embedding.weight.dtype, lm.device, nulls=inputs.null_names,
        null_shift_trs=settings["null_shift_trs"], seed=settings["seed"], model=model_spec,
    )  # fmt: skip
    windows = StoryWindows.of_dataset(ds, context_words)
    words = windows.words
    out = _Results(int(settings["n_seeds"]), len(targets))
    with torch.no_grad(), Progress(len(targets), "masking", "target") as bar:
        for ti, tgt, by_ctx, nwp_of in inputs.each(targets):
            heads = {(h.null, h.subject, h.layer): h for h in readouts.heads(tgt)}
            # one plan per k (faithfulness: n_masked_values; masking: the fraction); a text
            # that two k mask alike (same seed, same words) is one text, passed once
            plan, texts = [], {}
            for k in settings.get("n_masked_values") or [0]:
                n_masked, plan_k, texts_k = _target_plan(
                    tgt, words, heads, by_ctx, nwp_of[tgt.tr], {**settings, "n_masked": k}
                )
                plan += [(n_masked, i, v) for i, v in plan_k]
                texts.update(texts_k)
            base_windows = windows.delay_windows(lm, tgt.delay_trs)
            base = (base_windows, pooled_states(lm, [w for w in base_windows if w], layers))
            states = _masked_states(lm, windows, tgt, base, texts, layers,
                                    settings["batch_tokens"])  # fmt: skip
            states[None] = base
            ce_keys = [None, *dict.fromkeys((i, v.positions) for _, i, v in plan if _needs_nwp(v))]
            ce = _cross_entropies(lm, [words if k is None else texts[k][0] for k in ce_keys], tgt,
                                  settings["batch_tokens"])  # fmt: skip
            ce_of = dict(zip(ce_keys, ce, strict=True))
            # a removal control's offset leaves the MSE as it is and is taken out for r
            off = {key: 0.0 if h.offset is None else h.offset.double().cpu().numpy()
                   for key, h in heads.items()}  # fmt: skip
            bold = {key: head.y.double().cpu().numpy() - off[key] for key, head in heads.items()}
            for key, head in heads.items():
                out.ba("none", 0, key, tgt.tr, ti, 0,
                       _predict(states[None], head, layers) - off[key], bold[key])  # fmt: skip
            out.rows.append(("nwp", "none", *NWP_KEY, tgt.tr, 0, 0, ce_of[None]))
            for n_masked, i, v in plan:
                text = states[(i, v.positions)]
                for key in [v.key] if v.mask in ("ba_top", "ba_matched") else heads:
                    pred = _predict(text, heads[key], layers) - off[key]
                    out.ba(v.mask, i, key, tgt.tr, ti, n_masked, pred, bold[key])
                if _needs_nwp(v):
                    key = NWP_KEY if v.key is None else v.key
                    ce = ce_of[(i, v.positions)]
                    out.rows.append(("nwp", v.mask, *key, tgt.tr, i, n_masked, ce))
            bar.update()
    return out, readouts.n_delays


def _predict(text: tuple, head, layers: list[int]) -> np.ndarray:
    """A head's prediction (n_roi,) from a text's (delay windows, states)."""
    wins, states = text
    return readout(wins, states[:, layers.index(head.layer)], head).double().cpu().numpy()


class _Results:
    """Per-(target, seed) loss rows, and for r the fitted heads' predictions
    {(mask, head key): (n_seeds, n_targets, n_roi)} and BOLD {key: (n_targets, n_roi)}."""

    def __init__(self, n_seeds: int, n_targets: int):
        self.n_seeds, self.n_targets = n_seeds, n_targets
        self.rows: list[tuple] = []
        self.preds: dict[tuple, np.ndarray] = {}
        self.truth: dict[tuple, np.ndarray] = {}

    def ba(self, mask, seed, key, tr, ti, n_masked, pred, y) -> None:
        self.rows.append(("ba", mask, *key, tr, seed, n_masked, float(np.mean((pred - y) ** 2))))
        if not key[0]:  # r only for the fitted readouts
            size = (1 if mask == "none" else self.n_seeds, self.n_targets, y.size)
            self.preds.setdefault((mask, key), np.zeros(size))[seed, ti] = pred
            self.truth.setdefault(key, np.zeros((self.n_targets, y.size)))[ti] = y


class TargetScores:
    """The attribution scores that masking reads, a chunk of targets at a time, so that host
    memory does not grow with the targets (:func:`brainattr.tables.read_score_chunks`).

    ``layers`` (BA's), ``group_of`` (layer -> group) and ``null_names`` come from the first
    chunk: every target has every head. :meth:`each` yields each target with its chunk's
    ``by_ctx`` {(null, subject, layer, target): scores by word} and ``nwp_of`` {target: NWP(final)
    scores by word}.
    """

    def __init__(
        self, scores_path, null_scores_path=None, targets_per_chunk: int = TARGETS_PER_CHUNK
    ):
        self.scores_path, self.null_scores_path = scores_path, null_scores_path
        self.targets_per_chunk = targets_per_chunk
        first = next(read_score_chunks(scores_path, SCORES, targets_per_chunk),
                     pd.DataFrame(columns=SCORES))  # fmt: skip
        self.layers = sorted(int(x) for x in first.loc[first["task"] == "ba", "layer"].unique())
        self.group_of = dict(zip(first["layer"], first["layer_group"], strict=False))
        nulls = pd.DataFrame(columns=NULL_SCORES)
        if null_scores_path:
            nulls = next(read_score_chunks(null_scores_path, NULL_SCORES, 1), nulls)
        self.null_names = sorted(nulls["null"].unique())

    def read(self, trs: list[int]) -> tuple[dict, dict]:
        """``by_ctx`` and ``nwp_of`` of the targets ``trs``."""
        trs = np.unique(trs)
        scores = next(read_score_chunks(self.scores_path, SCORES, trs.size, trs))
        ba = scores[scores["task"] == "ba"].assign(null="")
        if self.null_names:
            nulls = next(read_score_chunks(self.null_scores_path, NULL_SCORES, trs.size, trs))
            ba = pd.concat([ba, nulls])
        by_ctx = {k: g.sort_values("word_index")["score"].to_numpy()
                  for k, g in ba.groupby(["null", "subject", "layer", "target_tr"])}  # fmt: skip
        # NWP is masked and measured where the model predicts: its output, NWP(final)
        final = scores[(scores["task"] == "nwp") & (scores["layer"] == FINAL)]
        if final.empty:
            raise ValueError(
                "the attribution scores hold no NWP(final) rows; masking measures the "
                "model's own next-word loss: add final to attribution.nwp_readouts"
            )
        nwp_of = {t: g.sort_values("word_index")["score"].to_numpy()
                  for t, g in final.groupby("target_tr")}  # fmt: skip
        return by_ctx, nwp_of

    def each(self, targets: list) -> Iterator[tuple[int, object, dict, dict]]:
        """(index, target, by_ctx, nwp_of) for each of ``targets``, in their order."""
        n = self.targets_per_chunk
        for start in range(0, len(targets), n):
            chunk = targets[start : start + n]
            by_ctx, nwp_of = self.read([t.tr for t in chunk])
            for ti, tgt in enumerate(chunk, start=start):
                yield ti, tgt, by_ctx, nwp_of


def load_masking_inputs(
    scores_path, null_scores_path, targets_path, targets_per_chunk=TARGETS_PER_CHUNK
):
    """:class:`TargetScores` of the attribution stage's scores (and null scores) and the
    targets."""
    inputs = TargetScores(scores_path, null_scores_path, targets_per_chunk)
    return inputs, read_targets(targets_path)


def run_masking(
    dataset_dir: str | Path,
    model_spec: dict,
    context_words: int,
    scores_path: str | Path,
    targets_path: str | Path,
    encoding_paths: dict[tuple[str, int], str],
    features_path: str | Path,
    settings: dict,
    out_path: str | Path,
    out_targets_path: str | Path,
    null_scores_path: str | Path | None = None,
    targets_per_chunk: int = TARGETS_PER_CHUNK,
) -> None:
    """Workflow stage ``masking``: both tables of the module docstring (the scores read
    ``targets_per_chunk`` targets at a time, :class:`TargetScores`).

    ``settings``: ``mask_fraction``, ``n_seeds`` (replacement seeds), ``seed``, ``device``,
    ``batch_tokens``, ``block_spans`` and ``n_resamples`` (the interval), ``null_shift_trs``;
    the heads of each null in ``null_scores_path`` mask their own top words.
    """
    inputs, targets = load_masking_inputs(scores_path, null_scores_path, targets_path,
                                          targets_per_chunk)  # fmt: skip
    lm = load_model(model_spec, settings["device"])
    results, n_delays = score_contexts(
        dataset_dir, lm, context_words, inputs, targets, encoding_paths,
        features_path, settings, model_spec,
    )  # fmt: skip
    group_of = inputs.group_of
    per_target = per_target_table(results.rows, group_of)
    write_table(per_target, out_targets_path, MASKING_TARGETS)
    blocks = StoryBlocks.of_dataset(dataset_dir, context_words, n_delays,
                                    settings["block_spans"])  # fmt: skip
    target_trs = [t.tr for t in targets]
    counts = bootstrap_counts(blocks.labels(np.array(target_trs)), settings["n_resamples"],
                              settings["seed"])  # fmt: skip
    table = head_table(results.preds, results.truth, per_target, target_trs, counts, group_of)
    write_table(table, out_path, MASKING)
