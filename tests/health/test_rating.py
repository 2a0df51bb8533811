"""The published scoring rule agrees with the seed's scoring at every boundary it states."""

from __future__ import annotations

import math

import pytest

from artifacts.health.quality import calculate_quality_metrics
from artifacts.health.rating import (
    DIVERGED_STARS,
    EMPTY_LABEL,
    EMPTY_STARS,
    FALLBACK_LABEL,
    FALLBACK_STARS,
    OVERFIT_GAP,
    OVERFIT_LABEL,
    OVERFIT_PENALTY,
    TIERS,
    rating_reason,
    scoring_rule,
)


def published(final: float, improvement: float) -> tuple[str, int]:
    """The rating the published tiers promise, read from the data the sentences are built from."""
    for tier in TIERS:
        if final < tier.loss_below and improvement > tier.improvement_above:
            return tier.label, tier.stars
    return FALLBACK_LABEL, FALLBACK_STARS


def scored(first: float, last: float, val: float | None = None):
    return calculate_quality_metrics(
        [{"training_loss": first, "validation_loss": None}, {"training_loss": last, "validation_loss": val}]
    )


def around(value: float) -> list[float]:
    return [math.nextafter(value, -math.inf), value, math.nextafter(value, math.inf)]


def boundary_runs():
    """(first, last) pairs just below, at and just above every loss and improvement boundary."""
    runs = []
    for tier in TIERS:
        for last in around(tier.loss_below):
            runs.append((last / (1 - (tier.improvement_above + 5) / 100), last))  # improvement well above
        inside = tier.loss_below / 2
        for first in (inside / (1 - tier.improvement_above / 100),):
            for f in around(first):
                runs.append((f, inside))  # improvement just below / at / just above the threshold
    return runs


@pytest.mark.parametrize(("first", "last"), boundary_runs())
def test_published_tiers_match_the_seed_scoring_at_every_boundary(first, last):
    result = scored(first, last)
    improvement = result["loss_improvement"]
    assert (result["convergence_quality"], result["overall_score"]) == published(last, improvement)


def test_boundary_runs_do_land_on_both_sides():
    labels = {scored(first, last)["convergence_quality"] for first, last in boundary_runs()}
    assert {tier.label for tier in TIERS} | {FALLBACK_LABEL} <= labels


@pytest.mark.parametrize("gap_offset", [-1, 0, 1])
def test_published_overfit_gap_matches_the_seed(gap_offset):
    final = 0.25
    val = final + OVERFIT_GAP
    val = {-1: math.nextafter(val, 0), 0: val, 1: math.nextafter(val, math.inf)}[gap_offset]
    result = scored(1.0, final, val)
    label, stars = published(final, result["loss_improvement"])
    if val - final > OVERFIT_GAP:
        assert (result["convergence_quality"], result["overall_score"]) == (
            OVERFIT_LABEL,
            max(1, stars - OVERFIT_PENALTY),
        )
    else:
        assert (result["convergence_quality"], result["overall_score"]) == (label, stars)


def test_published_empty_and_diverged_ratings_match_the_seed():
    empty = calculate_quality_metrics([])
    assert (empty["convergence_quality"], empty["overall_score"]) == (EMPTY_LABEL, EMPTY_STARS)
    diverged = scored(2.0, math.nan)
    assert (diverged["convergence_quality"], diverged["overall_score"]) == ("diverged", DIVERGED_STARS)


def test_scoring_rule_sentences_state_the_numbers():
    lines = scoring_rule()
    text = "\n".join(lines)
    assert lines[0] == (
        "5 stars (excellent): the final training loss is below 0.5 and fell by more than 50% from the first "
        "logged value."
    )
    for needle in ("below 1 and fell by more than 30%", "below 2 and fell by more than 10%", "2 stars (poor)"):
        assert needle in text
    assert 'more than 0.5 above the final training loss, the label becomes "overfitting detected"' in text
    assert "3 stars (unknown)" in text and "1 star (diverged)" in text
    assert all(line.endswith(".") for line in lines)


@pytest.mark.parametrize(
    ("first", "last", "val", "expected"),
    [
        (2.0, 0.4, None, "Rated 5/5 (excellent): the final training loss is 0.4 and it fell 80.0%"),
        (2.0, 0.9, None, "Rated 4/5 (good): the final training loss is 0.9 and it fell 55.0%; good needs"),
        (2.0, 1.9, None, "Rated 2/5 (poor): the final training loss is 1.9 and it fell 5.0%; fair needs a loss"),
        (2.0, 0.4, 1.0, "Rated 4/5: the final training loss is 0.4 and it fell 80.0%, but the final validation"),
        (2.0, math.nan, None, "Rated 1/5: the loss became NaN or infinite"),
    ],
)
def test_rating_reason_quotes_the_rule_the_run_met(first, last, val, expected):
    assert rating_reason(scored(first, last, val)).startswith(expected)


def test_rating_reason_for_an_empty_run_and_junk():
    assert rating_reason(calculate_quality_metrics([])).startswith("Rated 3/5: no metrics were logged")
    assert rating_reason({"convergence_quality": "poor", "overall_score": 2, "final_training_loss": "x"}) == (
        "Rated 2/5 (poor)."
    )
