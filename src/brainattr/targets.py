"""Attribution targets: the TRs whose BA and NWP losses are attributed to their words.

Target t has delays TR t-1..t-D (the rows of the ridge) and a span: every word that one of
the four delay windows reads, from the start of W_{t-D} to the last word of TR t-1
(distance 0). NWP predicts the first word after TR t-1 from the same span.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from brainattr.dataset import Dataset
from brainattr.tables import TARGETS, read_table, write_table

if TYPE_CHECKING:  # windows tokenise with torch models; targets stay torch-free
    from brainattr.windows import StoryWindows


@dataclass
class Target:
    """One attribution target: TR t and the words its two losses depend on."""

    tr: int
    row: int  # index among kept TRs (rows of the encoding model)
    fold: int
    delay_trs: list[int | None]  # TR t-d for d = 1..D, None where it has no words
    span_start: int
    span_stop: int  # one past the last word of TR t-1 (distance 0)
    next_word: int

    def distance(self, word_index: np.ndarray) -> np.ndarray:
        return self.span_stop - 1 - word_index

    @property
    def n_span_words(self) -> int:
        return self.span_stop - self.span_start

    @property
    def span(self) -> np.ndarray:
        return np.arange(self.span_start, self.span_stop)


def eligible_targets(
    ds: Dataset, windows: StoryWindows, n_delays: int, fold: np.ndarray
) -> list[Target]:
    """Kept TRs whose D delays stay in the run, whose TR t-1 has words and a next word.

    ``fold`` is the outer fold of each kept TR (from the encoding stage).
    """
    runs = ds.trs["run"].to_numpy()
    kept_rows = np.flatnonzero(ds.trs["kept"].to_numpy())
    out = []
    for row, t in enumerate(kept_rows):
        if t - n_delays < 0 or runs[t - n_delays] != runs[t]:
            continue
        if not windows.has_words(t - 1) or windows.stop[t - 1] >= windows.n_words:
            continue
        delay_trs = [t - d if windows.has_words(t - d) else None for d in range(1, n_delays + 1)]
        start = min(windows.range(s)[0] for s in delay_trs if s is not None)
        stop = int(windows.stop[t - 1])
        out.append(Target(int(t), row, int(fold[row]), delay_trs, int(start), stop, stop))
    return out


def sample_targets(targets: list[Target], n_targets: int, seed: int) -> list[Target]:
    """A seeded sample of ``n_targets`` targets in TR order (all when 0 or too few)."""
    if n_targets == 0 or n_targets >= len(targets):
        return targets
    pick = np.sort(np.random.default_rng(seed).choice(len(targets), n_targets, replace=False))
    return [targets[i] for i in pick]


def _delays_text(delay_trs: list[int | None]) -> str:
    return " ".join("NA" if s is None else str(s) for s in delay_trs)


def _delays_parse(text: str) -> list[int | None]:
    return [None if s == "NA" else int(s) for s in str(text).split()]


def write_targets(targets: list[Target], path: str | Path) -> None:
    """``targets.tsv``: every field of each target (``delay_trs`` space separated, NA for a
    delay without words)."""
    table = pd.DataFrame(
        {
            "target_tr": [t.tr for t in targets],
            "fold": [t.fold for t in targets],
            "span_start": [t.span_start for t in targets],
            "span_stop": [t.span_stop for t in targets],
            "next_word": [t.next_word for t in targets],
            "row": [t.row for t in targets],
            "delay_trs": [_delays_text(t.delay_trs) for t in targets],
        }
    )
    write_table(table, path, TARGETS)


def read_targets(path: str | Path) -> list[Target]:
    """The targets :func:`write_targets` wrote, equal field by field."""
    return [
        Target(
            int(r.target_tr),
            int(r.row),
            int(r.fold),
            _delays_parse(r.delay_trs),
            int(r.span_start),
            int(r.span_stop),
            int(r.next_word),
        )
        for r in read_table(path, TARGETS).itertuples(index=False)
    ]
