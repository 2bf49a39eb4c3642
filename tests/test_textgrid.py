"""TextGrid reading: the three Praat text formats, UTF-16, and the non-word marks."""

from __future__ import annotations

import pytest

from brainattr.textgrid import TextGridError, is_word, read_textgrid, textgrid_words

from .fake_sources import write_textgrid

ROWS = [
    (0.0, 0.5, "sp"),
    (0.5, 1.1, "Harry's"),
    (1.1, 1.4, ""),
    (1.4, 2.0, "1990"),
    (2.0, 2.3, "{NS}"),
    (2.3, 2.9, 'say "hi"'),
    (2.9, 3.0, "br"),
    (3.0, 3.5, "{LG}"),
    (3.5, 4.25, "owl"),
]
WORDS = [("Harry's", 0.5, 1.1), ("1990", 1.4, 2.0), ('say "hi"', 2.3, 2.9), ("owl", 3.5, 4.25)]


@pytest.mark.parametrize("style", ["long", "short", "chronological"])
@pytest.mark.parametrize("utf16", [False, True])
def test_every_format_gives_the_same_words(tmp_path, style, utf16):
    path = tmp_path / "s.TextGrid"
    write_textgrid(path, ROWS, style, utf16=utf16)
    tiers = read_textgrid(path)
    assert [t.name for t in tiers] == ["phone", "word"]
    assert tiers[1].intervals == ROWS
    words = textgrid_words(path)
    assert list(words.itertuples(index=False, name=None)) == WORDS


def test_non_words():
    for mark in ["sp", "SP", "{NS}", "br", "lg", "ls", "ns", "ig", "cg", "sl", "", "  ", "{BR}"]:
        assert not is_word(mark), mark
    for word in ["a", "I", "brown", "sl0w"]:
        assert is_word(word)


def test_truncated_file_names_the_path(tmp_path):
    path = tmp_path / "cut.TextGrid"
    write_textgrid(path, ROWS, "short")
    path.write_text(path.read_text()[:200])
    with pytest.raises(TextGridError, match=r"cut\.TextGrid"):
        read_textgrid(path)


def test_missing_tier_lists_the_tiers(tmp_path):
    path = tmp_path / "s.TextGrid"
    write_textgrid(path, ROWS, "long")
    with pytest.raises(TextGridError, match="phone"):
        textgrid_words(path, tier="words")


def test_not_a_textgrid(tmp_path):
    path = tmp_path / "x.TextGrid"
    path.write_text("<html>nope</html>")
    with pytest.raises(TextGridError, match="not a Praat TextGrid"):
        read_textgrid(path)
