"""The published scoring rule: the seed's star rating, stated as sentences a page can show.

``artifacts.health.quality.calculate_quality_metrics`` keeps the seed's thresholds inside its function
body, exactly as the seed wrote them; this module states the same thresholds as data so the
"Why this rating" section can publish them. ``tests/health/test_rating.py`` checks every boundary here
against ``calculate_quality_metrics`` itself, so the published rule cannot drift from the score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from artifacts.health.quality import DIVERGED


@dataclass(frozen=True)
class Tier:
    """A rating reached when the final training loss is below ``loss_below`` and the training loss
    fell by more than ``improvement_above`` percent from the first logged value to the last."""

    label: str
    stars: int
    loss_below: float
    improvement_above: float


# The seed's tiers, best first: the first one a run meets decides its rating.
TIERS = (
    Tier("excellent", 5, 0.5, 50.0),
    Tier("good", 4, 1.0, 30.0),
    Tier("fair", 3, 2.0, 10.0),
)
FALLBACK_LABEL, FALLBACK_STARS = "poor", 2
# Final validation loss minus final training loss above this: "overfitting detected", one star off.
OVERFIT_GAP = 0.5
OVERFIT_PENALTY = 1
MIN_STARS = 1
OVERFIT_LABEL = "overfitting detected"
EMPTY_LABEL, EMPTY_STARS = "unknown", 3
DIVERGED_STARS = 1


def _num(value: float) -> str:
    return f"{value:g}"


def scoring_rule() -> list[str]:
    """The rule behind the stars, one plain sentence per line, derived from the constants above."""
    lines = [
        f"{tier.stars} stars ({tier.label}): the final training loss is below {_num(tier.loss_below)} and "
        f"fell by more than {_num(tier.improvement_above)}% from the first logged value."
        for tier in TIERS
    ]
    lines.append(f"{FALLBACK_STARS} stars ({FALLBACK_LABEL}): any other run.")
    lines.append(
        f"If the final validation loss is more than {_num(OVERFIT_GAP)} above the final training loss, the "
        f'label becomes "{OVERFIT_LABEL}" and {OVERFIT_PENALTY} star is taken off (never below {MIN_STARS}).'
    )
    lines.append(f"A run without any logged metrics gets {EMPTY_STARS} stars ({EMPTY_LABEL}).")
    lines.append(f"A run whose loss became NaN or infinite gets {DIVERGED_STARS} star ({DIVERGED}).")
    lines.append(
        "The stars use only the first and the last logged losses; the training health checks read the whole history."
    )
    return lines


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rating_reason(quality_metrics: Mapping[str, Any]) -> str:
    """Why this run got its stars, in one sentence that quotes the rule it met."""
    label = quality_metrics.get("convergence_quality")
    stars = quality_metrics.get("overall_score")
    final = quality_metrics.get("final_training_loss")
    val = quality_metrics.get("final_validation_loss")
    improvement = quality_metrics.get("loss_improvement")
    rated = f"Rated {stars}/5"
    if label == EMPTY_LABEL:
        return f"{rated}: no metrics were logged, so the run could not be scored."
    if label == DIVERGED:
        return f"{rated}: the loss became NaN or infinite, so training diverged."
    if not _finite(final):
        return f"{rated} ({label})."
    fell = f"fell {improvement:.1f}%" if _finite(improvement) else "did not fall measurably"
    facts = f"the final training loss is {final:.4g} and it {fell}"
    if label == OVERFIT_LABEL and _finite(val):
        return (
            f"{rated}: {facts}, but the final validation loss ({val:.4g}) is more than {_num(OVERFIT_GAP)} "
            f"above it, which takes {OVERFIT_PENALTY} star off."
        )
    for tier in TIERS:
        if label == tier.label:
            return (
                f"{rated} ({label}): {facts}; {label} needs a loss below {_num(tier.loss_below)} that fell by "
                f"more than {_num(tier.improvement_above)}%."
            )
    worst = TIERS[-1]
    return (
        f"{rated} ({label}): {facts}; {worst.label} needs a loss below {_num(worst.loss_below)} that fell by "
        f"more than {_num(worst.improvement_above)}%."
    )
