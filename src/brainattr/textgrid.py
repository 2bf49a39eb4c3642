"""Praat TextGrid reading (long, short and chronological text formats; UTF-8/UTF-16).

The long and short formats hold the same token sequence (the long one adds ``name =`` labels
and ``[i]:`` headers), so both are read by tokenising quoted strings, numbers and
``<exists>``. The chronological format lists tier headers first, then every interval as
``tier xmin xmax`` followed by its text, with ``!`` comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# Marks in the MRH/ds003020 word tiers that are not words (silences, breaths, noises...).
NON_WORDS = frozenset({"", "sp", "{ns}", "br", "lg", "ls", "ns", "ig", "cg", "sl"})

_TOKEN = re.compile(
    r'"((?:[^"]|"")*)"|(<exists>|<absent>)|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)'
)


class TextGridError(ValueError):
    """A file is not a TextGrid this reader understands."""


@dataclass
class Tier:
    """One tier: ``intervals`` rows of (xmin, xmax, text); for a point tier xmin == xmax."""

    name: str
    kind: str
    intervals: list[tuple[float, float, str]]


def decode(raw: bytes) -> str:
    """TextGrid bytes to text: UTF-16 (with BOM), UTF-8 (optional BOM) or Latin-1."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _tokens(text: str) -> list[str | float]:
    # labels may contain digits inside [..] (e.g. "intervals [3]:"): drop those first
    text = re.sub(r"\[\s*\d*\s*\]", " ", text)
    out: list[str | float] = []
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            out.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:
            out.append(m.group(2))
        else:
            out.append(float(m.group(3)))
    return out


def parse_textgrid(text: str) -> list[Tier]:
    """Parse TextGrid text in any of Praat's three text formats.

    Returns
    -------
    tiers : list of Tier
    """
    if "Praat chronological TextGrid text file" in text[:200]:
        return _parse_chronological(text)
    if "ooTextFile" not in text[:200]:
        raise TextGridError("not a Praat TextGrid (no 'ooTextFile' or chronological header)")
    toks = _tokens(text)
    try:
        i = toks.index("TextGrid") + 1
        i += 2  # xmin xmax
        if toks[i] == "<absent>":
            return []
        n_tiers = int(toks[i + 1])
        i += 2
        tiers = []
        for _ in range(n_tiers):
            kind, name = str(toks[i]), str(toks[i + 1])
            n = int(toks[i + 4])
            i += 5
            rows = []
            for _ in range(n):
                if kind == "IntervalTier":
                    rows.append((float(toks[i]), float(toks[i + 1]), str(toks[i + 2])))
                    i += 3
                else:
                    rows.append((float(toks[i]), float(toks[i]), str(toks[i + 1])))
                    i += 2
            tiers.append(Tier(name, kind, rows))
    except (IndexError, ValueError) as err:
        raise TextGridError(f"truncated or malformed TextGrid ({err})") from err
    return tiers


def _parse_chronological(text: str) -> list[Tier]:
    # "!" starts a comment outside quoted strings
    lines = [re.sub(r'!(?=(?:[^"]*"[^"]*")*[^"]*$).*', "", ln) for ln in text.splitlines()]
    toks = _tokens("\n".join(lines))
    try:
        i = 1 + 2  # header string, xmin, xmax
        n_tiers = int(toks[i])
        i += 1
        tiers = []
        for _ in range(n_tiers):
            tiers.append(Tier(str(toks[i + 1]), str(toks[i]), []))
            i += 4
        while i < len(toks):
            tier = tiers[int(toks[i]) - 1]
            if tier.kind == "IntervalTier":
                tier.intervals.append((float(toks[i + 1]), float(toks[i + 2]), str(toks[i + 3])))
                i += 4
            else:
                tier.intervals.append((float(toks[i + 1]), float(toks[i + 1]), str(toks[i + 2])))
                i += 3
    except (IndexError, ValueError) as err:
        raise TextGridError(f"truncated or malformed chronological TextGrid ({err})") from err
    for tier in tiers:
        tier.intervals.sort(key=lambda r: r[0])
    return tiers


def read_textgrid(path: str | Path) -> list[Tier]:
    """Read a TextGrid file (see :func:`parse_textgrid`)."""
    try:
        return parse_textgrid(decode(Path(path).read_bytes()))
    except TextGridError as err:
        raise TextGridError(f"{path}: {err}") from err


def is_word(mark: str) -> bool:
    """False for the silence/noise marks of ``NON_WORDS`` and anything in braces."""
    m = mark.strip().lower()
    return m not in NON_WORDS and not (m.startswith("{") and m.endswith("}"))


def textgrid_words(path: str | Path, tier: str = "word") -> pd.DataFrame:
    """The words of a TextGrid tier, non-words dropped.

    Returns
    -------
    words : DataFrame with columns ``word``, ``onset``, ``offset`` (seconds in the file's time)
    """
    tiers = {t.name.lower(): t for t in read_textgrid(path)}
    if tier.lower() not in tiers:
        raise TextGridError(f"{path}: no tier '{tier}'; tiers: {[t.name for t in tiers.values()]}")
    rows = [(m.strip(), a, b) for a, b, m in tiers[tier.lower()].intervals if is_word(m)]
    out = pd.DataFrame(rows, columns=["word", "onset", "offset"])
    return out.astype({"onset": np.float64, "offset": np.float64})
