"""Default model names tell runs apart; rename/description text is cleaned or refused plainly."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from artifacts.models import ModelArtifact
from artifacts.naming import (
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    default_model_name,
    validate_display_text,
)

DAY = date(2026, 11, 27)


def test_name_max_length_is_the_model_fields():
    assert ModelArtifact._meta.get_field("name").max_length == NAME_MAX_LENGTH


def test_default_name_carries_dataset_preset_rank_and_date():
    assert default_model_name("Python Code Review Pairs", "balanced", 16, DAY, []) == (
        "Python Code Review Pairs · balanced · r16 · 2026-11-27"
    )


def test_runs_that_differ_get_different_names():
    names = {
        default_model_name("Support", "balanced", 16, DAY),
        default_model_name("Support", "quality", 16, DAY),
        default_model_name("Support", "balanced", 32, DAY),
        default_model_name("Support", "balanced", 16, date(2026, 11, 28)),
    }
    assert len(names) == 4


def test_equal_names_get_the_first_free_suffix():
    base = "Support · fast · r8 · 2026-11-27"
    assert default_model_name("Support", "fast", 8, DAY, [base]) == base + " (2)"
    assert default_model_name("Support", "fast", 8, DAY, [base, base + " (2)"]) == base + " (3)"
    # a gap is reused; case and spacing don't make a name different to a reader
    assert default_model_name("Support", "fast", 8, DAY, [base.upper(), base + "  (3)"]) == base + " (2)"
    assert default_model_name("Support", "fast", 8, DAY, ["Other"]) == base


def test_missing_or_unusable_parts_are_left_out():
    assert default_model_name(None, None, None, None) == "Model"
    assert default_model_name("", "", 0, "not a date") == "Model"
    assert default_model_name("Legal", None, True, None) == "Legal"  # a bool is not a rank
    assert default_model_name("Legal", None, 16.0, "2026-11-27T10:00:00Z") == "Legal · r16 · 2026-11-27"
    assert default_model_name("Legal", "fast", -4, datetime(2026, 1, 2, 23, 0, tzinfo=UTC)) == (
        "Legal · fast · 2026-01-02"
    )


def test_control_characters_are_removed_from_default_names():
    name = default_model_name("Evil\x00 data\nset\u202e\x1b[31m", "fa\tst", 8, DAY)
    assert name == "Evil data set[31m · fa st · r8 · 2026-11-27"
    assert all(ch.isprintable() for ch in name)


def test_long_names_fit_with_their_suffix():
    dataset = "D" * 400
    first = default_model_name(dataset, "balanced", 16, DAY)
    assert len(first) == NAME_MAX_LENGTH
    assert first.endswith("… · balanced · r16 · 2026-11-27")
    second = default_model_name(dataset, "balanced", 16, DAY, [first])
    assert len(second) <= NAME_MAX_LENGTH and second.endswith(" (2)") and second != first
    # even an absurd preset keeps the name within bounds
    assert len(default_model_name("x", "p" * 1000, 16, DAY, [])) <= NAME_MAX_LENGTH


def test_many_taken_names_still_terminate():
    base = "Support · fast · r8 · 2026-11-27"
    taken = [base] + [f"{base} ({n})" for n in range(2, 500)]
    assert default_model_name("Support", "fast", 8, DAY, taken) == base + " (500)"


# --- validate_display_text ---------------------------------------------------------------------


def test_valid_text_is_trimmed_and_normalized():
    assert validate_display_text("  My model  ", 255) == "My model"
    assert validate_display_text("Cafe\u0301", 255) == "Café"  # NFC: one character, not two
    assert validate_display_text("line one\r\nline two\rthree\n", 100, multiline=True) == "line one\nline two\nthree"
    assert validate_display_text("a\tb", 100, multiline=True) == "a\tb"
    assert validate_display_text("", 100, allow_empty=True, label="Description") == ""


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (None, {}, "Name must be text."),
        (5, {}, "Name must be text."),
        ("   ", {}, "Name must not be empty."),
        ("two\nlines", {}, "Name must be a single line."),
        ("tab\there", {}, "Name must be a single line."),
        ("bell\x07", {}, "Name contains an invisible control character (U+0007); remove it."),
        ("del\x7f", {}, "Name contains an invisible control character (U+007F); remove it."),
        ("c1\x85c1", {}, "Name contains an invisible control character (U+0085); remove it."),
        ("txt.exe\u202egnp", {}, "Name contains an invisible control character (U+202E); remove it."),
        ("nul\x00", {"multiline": True, "label": "Description"}, "Description contains an invisible control"),
        ("x" * 256, {}, "Name is 256 characters long; the limit is 255."),
    ],
)
def test_invalid_text_is_refused_with_a_plain_message(value, kwargs, message):
    with pytest.raises(ValueError) as error:
        validate_display_text(value, 255, **kwargs)
    assert str(error.value).startswith(message)


def test_length_is_counted_after_trimming():
    assert validate_display_text("  " + "x" * 255 + "  ", 255) == "x" * 255
    assert len(validate_display_text("é" * DESCRIPTION_MAX_LENGTH, DESCRIPTION_MAX_LENGTH, multiline=True)) == (
        DESCRIPTION_MAX_LENGTH
    )
