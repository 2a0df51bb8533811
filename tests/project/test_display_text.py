"""The one rule for which characters shown text may hold (``pipeline.lib.text``), and the callers
that judge by it: model names, API token names, the cluster's file names."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import validate_printable
from artifacts.cluster import NeverRetry, validate_filename
from artifacts.naming import validate_display_text
from pipeline.lib.text import first_unprintable, without_unprintable

PERSIAN = "نام\u200cگذاری"  # a zero-width non-joiner inside a word, as Persian is written
TECHNOLOGIST = "\U0001f469\u200d\U0001f4bb"  # 👩‍💻: an emoji joined by a zero-width joiner


@pytest.mark.parametrize("text", ["Plain name", "Café · r16 · 2026-11-27", PERSIAN, f"{TECHNOLOGIST} coder", "🚀"])
def test_text_people_write_passes(text):
    assert first_unprintable(text) is None


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("nul\x00byte", "\x00"),
        ("c1\x85control", "\x85"),
        ("txt.exe\u202egnp", "\u202e"),  # right-to-left override
        ("zero\u200bwidth", "\u200b"),
        ("bom\ufeff", "\ufeff"),
        ("soft\u00adhyphen", "\u00ad"),
        ("line\u2028break", "\u2028"),
        ("private\ue000use", "\ue000"),
        ("unassigned\u0378", "\u0378"),
        ("\u200d", "\u200d"),  # a joiner joins nothing at either end, beside a space or another joiner
        ("end\u200d", "\u200d"),
        ("a \u200db", "\u200d"),
        ("a\u200d\u200cb", "\u200d"),
    ],
)
def test_invisible_and_disguising_characters_are_refused(text, refused):
    assert first_unprintable(text) == refused


def test_callers_name_what_they_allow_and_dropping_keeps_the_rest():
    assert first_unprintable("two\nlines") == "\n"
    assert first_unprintable("two\nlines", allowed="\n") is None
    assert without_unprintable("a\x00b\u200bc\u202e") == "abc"
    assert without_unprintable(PERSIAN) == PERSIAN


def test_every_caller_judges_by_the_same_rule():
    for text in (PERSIAN, TECHNOLOGIST):
        assert validate_display_text(text, 255) == text
        validate_printable(text)
        assert validate_filename(text) == text
    with pytest.raises(ValueError, match=r"invisible control character \(U\+200B\)"):
        validate_display_text("\u200b\u200b", 255)  # a name made only of zero-width characters
    with pytest.raises(ValidationError):
        validate_printable("private\ue000use")
    with pytest.raises(NeverRetry, match="U\\+E000"):
        validate_filename("private\ue000use")
