"""Workflow stage ``attribution``: BA (selected layers x subjects) and NWP word scores.

Dataflow: dataset -> :class:`~brainattr.windows.StoryWindows` at L ->
:class:`~brainattr.readout.Readouts` (the selected layers' ridges) -> targets (eligible,
sampled) -> an engine (:mod:`brainattr.attribution.engines`) -> the score tables
(:mod:`brainattr.tables`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from brainattr.attribution.core import ig_scales
from brainattr.attribution.engines import get_engine
from brainattr.dataset import read_dataset
from brainattr.layers import selected_layers
from brainattr.models import FINAL, load_model
from brainattr.readout import BAHead, Readouts
from brainattr.tables import (
    NULL_SCORES,
    REPEAT_SCORES,
    SCORES,
    TARGETS_PER_CHUNK,
    ParquetStream,
    empty_table,
)
from brainattr.targets import Target, eligible_targets, sample_targets, write_targets
from brainattr.windows import StoryWindows

# the model's output (the paper's NWP) and every selected layer's logit lens
NWP_READOUTS = ("final", "logit_lens")
# targets attributed and written together; neighbouring targets share windows in the shared
# engine, so a chunk's first target recomputes at most D windows (scores are the same)


@dataclass(frozen=True)
class AttributionSettings:
    """What the config's ``attribution`` section (and ``seed``, ``device``,
    ``features.batch_tokens``) sets for one attribution job; see config/README.md."""

    method: str = "gxi"
    ig_steps: int = 20
    n_targets: int = 0
    seed: int = 0
    engine: str = "per_target"
    repeats: bool = True
    nulls: tuple[str, ...] = ()
    nwp_readouts: tuple[str, ...] = NWP_READOUTS
    null_shift_trs: int = 40
    device: str = "auto"
    batch_tokens: int = 8192
    vjp_batch: int = 64

    @classmethod
    def from_config(cls, section: dict, **extra) -> AttributionSettings:
        """The known keys of a config section, and ``extra`` (e.g. ``method``, ``seed``)."""
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in {**section, **extra}.items() if k in names}
        for key in ("nulls", "nwp_readouts"):
            if key in known:
                known[key] = tuple(known[key])
        unknown = set(known.get("nwp_readouts", ())) - set(NWP_READOUTS)
        if unknown or not known.get("nwp_readouts", NWP_READOUTS):
            raise ValueError(
                f"attribution.nwp_readouts = {list(known['nwp_readouts'])}; give one or more of "
                f"{', '.join(NWP_READOUTS)} (config key attribution.nwp_readouts)"
            )
        return cls(**known)

    def readouts(self, layers: list[int]) -> list[int]:
        """The NWP readouts: :data:`brainattr.models.FINAL` and/or the selected ``layers``."""
        final = [FINAL] if "final" in self.nwp_readouts else []
        return final + (sorted(layers) if "logit_lens" in self.nwp_readouts else [])


def run_attribution(
    dataset_dir: str | Path,
    model_spec: dict,
    context_words: int,
    layers_path: str | Path,
    encoding_paths: dict[tuple[str, int], str],
    features_path: str | Path,
    settings: AttributionSettings,
    out_scores: str | Path,
    out_targets: str | Path,
    out_repeat_scores: str | Path | None = None,
    out_null_scores: str | Path | None = None,
) -> None:
    """Attribute BA and NWP of the sampled targets and write the tables.

    Writes ``out_scores`` (:data:`brainattr.tables.SCORES`, one row per (task, subject, layer,
    target, word); NWP rows have ``subject`` "" and, per readout of ``settings.nwp_readouts``,
    ``layer`` -1 and ``layer_group`` "final" (the model's output) or a selected layer and its
    group (the logit lens)),
    ``out_targets`` (:func:`brainattr.targets.write_targets`) and, with ``settings.repeats``,
    ``out_repeat_scores``: the BA scores of targets in a repeated run against each
    presentation's BOLD (:data:`brainattr.tables.REPEAT_SCORES`; no rows when the dataset
    has no repeats), and ``out_null_scores``: the BA scores of each brain-free null of
    ``settings.nulls`` (:class:`brainattr.readout.Readouts`; :data:`brainattr.tables.NULL_SCORES`,
    no rows without nulls).
    """
    ig_scales(settings.method, settings.ig_steps)  # an unknown method fails before the model
    engine = get_engine(settings.engine)
    ds = read_dataset(dataset_dir)
    group_of = {layer: g for g, layer in selected_layers(layers_path).items()}
    lm = load_model(model_spec, settings.device)
    readouts = Readouts(
        {k: v for k, v in encoding_paths.items() if k[1] in group_of},
        features_path,
        dataset_dir,
        ds,
        lm.embedding.weight.dtype,
        lm.device,
        repeats=settings.repeats,
        nulls=settings.nulls,
        null_shift_trs=settings.null_shift_trs,
        seed=settings.seed,
        model=model_spec,
    )
    windows = StoryWindows.of_dataset(ds, context_words)
    targets = sample_targets(
        eligible_targets(ds, windows, readouts.n_delays, readouts.fold),
        settings.n_targets,
        settings.seed,
    )
    if not targets:
        raise ValueError(f"{dataset_dir}: no eligible attribution target (see eligible_targets)")
    heads = [readouts.heads(t) for t in targets]  # shared weights; each adds its BOLD only
    s = settings
    nwp_readouts = s.readouts(list(group_of))
    outputs = [(out_scores, SCORES), (out_repeat_scores, REPEAT_SCORES),
               (out_null_scores, NULL_SCORES)]  # fmt: skip
    with ExitStack() as stack:
        streams = [stack.enter_context(ParquetStream(p, c)) if p is not None else None
                   for p, c in outputs]  # fmt: skip
        # a chunk of targets at a time: the tables' host memory does not grow with the targets
        for start in range(0, len(targets), TARGETS_PER_CHUNK):
            ts = targets[start : start + TARGETS_PER_CHUNK]
            hs = heads[start : start + TARGETS_PER_CHUNK]
            ba = engine.ba(lm, windows, ts, hs, s.method, s.ig_steps, s.batch_tokens, s.vjp_batch)
            nwp = engine.nwp(lm, windows.words, ts, s.method, s.ig_steps, s.batch_tokens,
                             nwp_readouts)  # fmt: skip
            tables = score_tables(ts, hs, ba, nwp, windows.words, s.method, group_of,
                                  nwp_readouts)  # fmt: skip
            for stream, table in zip(streams, tables, strict=True):
                if stream is not None:
                    stream.write(table)
    write_targets(targets, out_targets)


def score_tables(
    targets: list[Target],
    heads: list[list[BAHead]],
    ba: list[list[np.ndarray]],
    nwp: list[np.ndarray],
    words: list[str],
    method: str,
    group_of: dict[int, str],
    readouts: list[int] = [FINAL],  # noqa: B006 (read only)
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The tidy score table, the repeat and the null score tables of an engine's results
    (``nwp``: per target, (n_readouts, n_span_words) for ``readouts``)."""
    frames, repeat_frames, null_frames = [], [], []
    for tgt, hs, ba_t, nwp_t in zip(targets, heads, ba, nwp, strict=True):
        span = tgt.span
        base = {
            "target_tr": tgt.tr,
            "fold": tgt.fold,
            "word_index": span,
            "distance": tgt.distance(span),
            "word": [words[j] for j in span],
            "method": method,
        }
        for h, sc in zip(hs, ba_t, strict=True):
            frame = pd.DataFrame({**base, "task": "ba", "subject": h.subject, "layer": h.layer,
                                  "layer_group": group_of[h.layer], "score": sc})  # fmt: skip
            if h.null:
                null_frames.append(frame.assign(null=h.null))
            elif h.repeat:
                repeat_frames.append(frame.assign(repeat=h.repeat))
            else:
                frames.append(frame)
        for readout, sc in zip(readouts, np.atleast_2d(nwp_t), strict=True):
            group = "final" if readout == FINAL else group_of[readout]
            frames.append(pd.DataFrame({**base, "task": "nwp", "subject": "", "layer": readout,
                                        "layer_group": group, "score": sc}))  # fmt: skip
    scores = pd.concat(frames, ignore_index=True)[SCORES]

    def table(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
        return pd.concat(parts, ignore_index=True)[columns] if parts else empty_table(columns)

    return scores, table(repeat_frames, REPEAT_SCORES), table(null_frames, NULL_SCORES)
