"""The paper's datasets as timings: word and TR tables with HP's and MRH's exact layouts.

For rehearsing the paper's run on synthetic data (``datasets.<name>.demo.layout: hp | mrh``,
see :func:`brainattr.demo.make_demo_dataset`): the demo's text and simulated BOLD, laid out as
the real datasets are, so that every stage meets the real numbers of runs, TRs, kept TRs and
words.

- ``hp`` (Wehbe et al. 2014, as Toneva's bundle keeps it): 4 runs of 340, 352, 279 and 380 TRs
  of 2 s; each run starts with 10 TRs of rest, then one word every 0.5 s (1303, 1351, 1059 and
  1463 words); the first 20 and last 15 TRs of each run are not kept: 1211 kept TRs.
- ``mrh`` (Deniz et al. 2019): 11 stories of 363, 387, 374, 420, 450, 378, 442, 424, 375, 324
  and 311 TRs of 2.0045 s; words from 10.023 s on at a speech-like rate (durations drawn from a
  gamma distribution, mean 0.4 s, seeded); 10 TRs trimmed at each end: 3,737 + 291 kept TRs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainattr.dataset import TR_COLUMNS, WORD_COLUMNS

LAYOUTS = {
    "hp": dict(
        tr=2.0,
        run_trs=(340, 352, 279, 380),
        run_words=(1303, 1351, 1059, 1463),
        first_word=20.0,  # s after the run's first TR: 10 TRs of rest
        word_seconds=0.5,
        trim=(20, 15),
    ),
    "mrh": dict(
        tr=2.0045,
        run_trs=(363, 387, 374, 420, 450, 378, 442, 424, 375, 324, 311),
        first_word=10.023,
        mean_word_seconds=0.4,
        trim=(10, 10),
    ),
}


def layout_tables(
    layout: str, text: list[str], rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Word and TR tables of a paper layout, its words taken from ``text`` cycled.

    Returns
    -------
    words : DataFrame with columns ``WORD_COLUMNS``
    trs : DataFrame with columns ``TR_COLUMNS`` (``kept`` after the layout's trim)
    """
    spec = LAYOUTS[layout]
    tr = spec["tr"]
    word_rows, tr_rows = [], []
    clock = 0.0
    for run, n_trs in enumerate(spec["run_trs"], start=1):
        start = spec["first_word"]
        if "run_words" in spec:
            n_words = spec["run_words"][run - 1]
            durations = np.full(n_words, spec["word_seconds"])
        else:  # words until the last trimmed TRs, at a speech-like rate
            end = (n_trs - spec["trim"][1]) * tr
            mean = spec["mean_word_seconds"]
            durations = rng.gamma(4.0, mean / 4.0, size=int((end - start) / mean * 1.5))
            durations = durations[np.cumsum(durations) <= end - start]
        onsets = start + np.concatenate([[0.0], np.cumsum(durations)[:-1]])
        for onset, duration in zip(onsets, durations, strict=True):
            i = len(word_rows)
            word_rows.append((i, text[i % len(text)], clock + onset, clock + onset + duration, run))
        head, tail = spec["trim"]
        for k in range(n_trs):
            tr_rows.append((len(tr_rows), clock + k * tr, run, head <= k < n_trs - tail))
        clock += n_trs * tr
    return (
        pd.DataFrame(word_rows, columns=WORD_COLUMNS),
        pd.DataFrame(tr_rows, columns=TR_COLUMNS),
    )
