"""Masks: which span words each masking variant replaces, and with what (NumPy only).

For a target's span of n words (position 0 the oldest, n - 1 the most recent word) and a
task's word scores:

- **top**: the ``n_masked`` largest |scores| (:func:`top_words`);
- **matched**: a random control at the same distances from the most recent word as the top
  words (:func:`distance_matched`): each top word at distance d is paired with a random other
  word at distance within ``max(2, 25 % of d)`` words (widened until one is free), so the
  control keeps the recency profile of the words it controls for;
- **random**: ``n_masked`` positions uniformly over the span (the paper's control).

Replacement words are drawn from the dataset's word *tokens*, every run
(:func:`replacement_words`), so a word is drawn as often as it occurs and frequent function
words are not under-represented as they are when drawing from the vocabulary's types; a
replacement never equals the word it replaces (compared without case and surrounding
punctuation). One replacement per span position is drawn for each seed and shared by every
mask, so masks of one seed differ only in *which* words they replace.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

import numpy as np


def n_masked_words(mask_fraction: float, n_span: int) -> int:
    """Words masked in a span of ``n_span`` words: ``ceil(fraction x n)``, at least one."""
    return max(1, math.ceil(mask_fraction * n_span - 1e-9))


def top_words(scores: np.ndarray, n: int) -> np.ndarray:
    """Span positions of the ``n`` largest |scores| (ties by position)."""
    return np.argsort(-np.abs(scores), kind="stable")[:n]


def masked_words(words: list[str], positions: np.ndarray, replacements: list[str]) -> list[str]:
    """A copy of ``words`` with ``words[p] = replacements[p]`` for p in ``positions``."""
    out = list(words)
    for p in positions:
        out[int(p)] = replacements[int(p)]
    return out


def replacement_words(
    story_words: list[str], span: list[str], rng: np.random.Generator, max_draws: int = 20
) -> list[str]:
    """One replacement per span word, drawn from the story's word tokens.

    Parameters
    ----------
    story_words : list of str
        Every word token of the story (drawn with their frequencies).
    span : list of str
        The words to replace.
    rng : Generator
    max_draws : int
        Redraws for a replacement equal to its word (a story of almost one word raises).

    Returns
    -------
    replacements : list of str, one per span word, each different from it
    """
    tokens = np.asarray(story_words, dtype=object)
    out = list(tokens[rng.integers(0, len(tokens), len(span))])
    for i, word in enumerate(span):
        for _ in range(max_draws):
            if _form(out[i]) != _form(word):
                break
            out[i] = tokens[rng.integers(0, len(tokens))]
        else:
            raise ValueError(
                f"no replacement differs from {word!r} in {max_draws} draws: the story's words "
                "are (almost) all this one word"
            )
    return out


def _form(word: str) -> str:
    return word.strip(string.punctuation).casefold()


def distance_matched(
    top: np.ndarray, n_span: int, rng: np.random.Generator, tolerance: float = 0.25
) -> np.ndarray:
    """Random non-top positions at the distances of ``top`` from the span's last word.

    Parameters
    ----------
    top : array of int, shape (n_masked,)
        Span positions of the top words.
    n_span : int
    rng : Generator
    tolerance : float
        A top word at distance d is matched within ``max(2, tolerance x d)`` words of d; the
        window doubles until a free position falls in it.

    Returns
    -------
    positions : array of int, shape (n_masked,) (fewer only if the span has no free word)
    """
    free = np.ones(n_span, dtype=bool)
    free[top] = False
    distance = n_span - 1 - np.arange(n_span)
    out = []
    for p in top:
        d = n_span - 1 - int(p)
        width = max(2.0, tolerance * d)
        while free.any():
            near = np.flatnonzero(free & (np.abs(distance - d) <= width))
            if near.size:
                q = int(rng.choice(near))
                free[q] = False
                out.append(q)
                break
            width *= 2
    return np.array(out, dtype=int)


@dataclass(frozen=True)
class Variant:
    """One masked copy of a span: ``mask`` names it (``ba_top``, ``ba_matched``, ``nwp_top``,
    ``nwp_matched``, ``random``); ``key`` is the BA head whose top words it masks
    (``(null, subject, layer)``) or None; ``positions`` the masked span positions."""

    mask: str
    key: tuple | None
    positions: tuple[int, ...]


def target_variants(
    ba_scores: dict[tuple, np.ndarray],
    nwp_scores: np.ndarray,
    n_masked: int,
    rng: np.random.Generator,
) -> list[Variant]:
    """Every masking variant of one target and seed.

    Parameters
    ----------
    ba_scores : {(null, subject, layer): array (n_span,)}
        BA word scores of each head (null "" for the fitted readouts).
    nwp_scores : array (n_span,)
    n_masked : int
    rng : Generator
        Draws the random and matched controls; a head's matched control is drawn once per
        distinct top set, so heads that pick the same words share it (and its forward pass).

    Returns
    -------
    variants : list of Variant
    """
    n_span = len(nwp_scores)
    nwp_top = top_words(nwp_scores, n_masked)
    out = [
        Variant("nwp_top", None, tuple(sorted(nwp_top.tolist()))),
        Variant("nwp_matched", None, _sorted(distance_matched(nwp_top, n_span, rng))),
        Variant("random", None, _sorted(rng.choice(n_span, n_masked, replace=False))),
    ]
    matched: dict[tuple[int, ...], tuple[int, ...]] = {}
    for key, scores in ba_scores.items():
        top = top_words(scores, n_masked)
        top_set = _sorted(top)
        if top_set not in matched:
            matched[top_set] = _sorted(distance_matched(top, n_span, rng))
        out.append(Variant("ba_top", key, top_set))
        out.append(Variant("ba_matched", key, matched[top_set]))
    return out


def _sorted(positions: np.ndarray) -> tuple[int, ...]:
    return tuple(sorted(int(p) for p in positions))
