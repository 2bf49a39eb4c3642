"""Progress bars for long passes (features, attribution, masking)."""

from __future__ import annotations

import sys


class Progress:
    """A progress bar for a long pass, written to stderr (a rule's log under Snakemake):
    done / total, rate and time left, refreshed at most every ``interval`` seconds."""

    def __init__(self, total: int, desc: str, unit: str = "it", interval: float = 10.0):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, mininterval=interval,
                        ncols=100, ascii=True)  # fmt: skip

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_) -> None:
        self.bar.close()
