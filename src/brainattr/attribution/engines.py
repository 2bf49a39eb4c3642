"""The engines: one signature, a registry by name (config key ``attribution.engine``).

An engine computes, for the same targets and heads, the BA word scores (per target, per head)
and the NWP word scores (per target, per readout). Every engine gives the same scores to float
precision (tests/attribution/test_engines.py); they differ in how passes are shared. A new engine
is a class with these two methods, added to :data:`ENGINES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from brainattr.attribution.per_target import PerTargetEngine
from brainattr.attribution.shared import SharedEngine
from brainattr.models import LoadedModel
from brainattr.readout import BAHead
from brainattr.targets import Target
from brainattr.windows import StoryWindows


class Engine(Protocol):
    name: str

    def ba(
        self,
        lm: LoadedModel,
        windows: StoryWindows,
        targets: list[Target],
        heads: list[list[BAHead]],
        method: str,
        steps: int,
        batch_tokens: int,
        vjp_batch: int,
    ) -> list[list[np.ndarray]]:
        """BA word scores: per target, per head, an array (n_span_words,)."""
        ...

    def nwp(
        self,
        lm: LoadedModel,
        words: list[str],
        targets: list[Target],
        method: str,
        steps: int,
        batch_tokens: int,
        readouts: Sequence[int],
    ) -> list[np.ndarray]:
        """NWP word scores: per target, an array (n_readouts, n_span_words); ``readouts``:
        :data:`brainattr.models.FINAL` and/or layers (logit lens)."""
        ...


ENGINES: dict[str, Engine] = {e.name: e for e in (PerTargetEngine(), SharedEngine())}


def get_engine(name: str) -> Engine:
    if name not in ENGINES:
        raise ValueError(
            f"attribution.engine = {name!r}; allowed: {', '.join(ENGINES)} (config key "
            "attribution.engine)"
        )
    return ENGINES[name]
