"""A toy story shared by the attribution tests: 8 TRs of 4 words, L = 3."""

import numpy as np

from brainattr.targets import Target
from brainattr.windows import StoryWindows

WORDS = (
    "Every autumn the fog came early to Saltmere and every autumn Marta climbed the hill "
    "behind the harbour to light the old lantern Nobody had asked her to do it"
).split()
WORD_TR = np.repeat(np.arange(8), 4)[: len(WORDS)]  # 4 words per TR, TRs 0..7
CONTEXT = 3


def story_windows() -> StoryWindows:
    return StoryWindows(WORDS, WORD_TR, 8, CONTEXT)


def target_6() -> Target:
    # target TR 6: delays 5,4,3,2; W_{t-4} = W_2 starts CONTEXT words before word 8
    return Target(tr=6, row=0, fold=0, delay_trs=[5, 4, 3, 2], span_start=8 - CONTEXT,
                  span_stop=24, next_word=24)  # fmt: skip


def overlapping_targets() -> list[Target]:
    # targets 5, 6, 7 share windows; TR 7's t-4 = 3
    out = []
    for t in (5, 6, 7):
        stop = 4 * (t - 1) + 4
        out.append(Target(t, 0, 0, [t - 1, t - 2, t - 3, t - 4], max(0, 4 * (t - 4) - CONTEXT),
                          stop, stop))  # fmt: skip
    return out
