"""Quality metrics of a training run: the seed's ``calculateQualityMetrics``, ported exactly.

For finite losses the thresholds, labels, scores and floats are the seed's, including its
JavaScript truthiness (a zero loss or a zero improvement counts as "missing", as it does there).
One deliberate deviation: a history with a NaN/infinite loss (or a loss the database could only
store as NULL, see ``MetricsPoint.training_loss``) is a diverged run: score 1, label "diverged",
never an exception, and no non-finite number in the result (JSON cannot carry one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, TypeGuard

DIVERGED = "diverged"


class QualityMetrics(TypedDict):
    overall_score: int
    convergence_quality: str
    final_training_loss: float | None
    final_validation_loss: float | None
    perplexity: float | None
    loss_improvement: float | None


def _truthy(value: float | None) -> TypeGuard[float]:
    """JavaScript truthiness for a number that may be null: 0, NaN and null are false."""
    return value is not None and value == value and value != 0


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and math.isfinite(value)


def _finite_or_none(value: float | None) -> float | None:
    return value if _finite(value) else None


def _is_diverged(points: Sequence[Mapping[str, Any]]) -> bool:
    for point in points:
        train = point.get("training_loss")
        if not _finite(train):
            return True
        val = point.get("validation_loss")
        if val is not None and not _finite(val):
            return True
    return False


def calculate_quality_metrics(points: Sequence[Mapping[str, Any]]) -> QualityMetrics:
    """Score a run from its metrics history, ``points`` ordered oldest first."""
    if len(points) == 0:
        return {
            "overall_score": 3,
            "convergence_quality": "unknown",
            "final_training_loss": None,
            "final_validation_loss": None,
            "perplexity": None,
            "loss_improvement": None,
        }

    final, first = points[-1], points[0]
    final_training_loss = final.get("training_loss")
    final_validation_loss = final.get("validation_loss")
    initial_training_loss = first.get("training_loss")

    if _is_diverged(points):
        improvement = None
        if _finite(initial_training_loss) and initial_training_loss and _finite(final_training_loss):
            improvement = (initial_training_loss - final_training_loss) / initial_training_loss * 100
        return {
            "overall_score": 1,
            "convergence_quality": DIVERGED,
            "final_training_loss": _finite_or_none(final_training_loss),
            "final_validation_loss": _finite_or_none(final_validation_loss),
            "perplexity": None,
            "loss_improvement": _finite_or_none(improvement),
        }

    # Not diverged: every training loss is a finite number from here on.
    assert _finite(final_training_loss) and _finite(initial_training_loss)
    perplexity = math.exp(final_validation_loss) if _truthy(final_validation_loss) else None
    if perplexity is not None and not math.isfinite(perplexity):
        perplexity = None  # exp overflows past ~709; JavaScript would say Infinity, JSON cannot
    loss_improvement = (
        (initial_training_loss - final_training_loss) / initial_training_loss * 100
        if _truthy(initial_training_loss)
        else None
    )

    # The seed tests `lossImprovement && lossImprovement > N`: 0 and null both fail it.
    improvement = loss_improvement if _truthy(loss_improvement) else None
    if final_training_loss < 0.5 and improvement is not None and improvement > 50:
        convergence_quality, overall_score = "excellent", 5
    elif final_training_loss < 1.0 and improvement is not None and improvement > 30:
        convergence_quality, overall_score = "good", 4
    elif final_training_loss < 2.0 and improvement is not None and improvement > 10:
        convergence_quality, overall_score = "fair", 3
    else:
        convergence_quality, overall_score = "poor", 2

    if final_validation_loss is not None and _truthy(final_validation_loss) and _truthy(final_training_loss):
        gap = final_validation_loss - final_training_loss
        if gap > 0.5:
            convergence_quality = "overfitting detected"
            overall_score = max(1, overall_score - 1)

    return {
        "overall_score": overall_score,
        "convergence_quality": convergence_quality,
        "final_training_loss": final_training_loss,
        "final_validation_loss": final_validation_loss,
        "perplexity": perplexity,
        "loss_improvement": loss_improvement,
    }


# Every label a run can carry: the seed's four plus "overfitting detected", our "diverged", and
# "unknown" for a run without metrics. Pages and the API offer exactly these as filters.
CONVERGENCE_LABELS = ("excellent", "good", "fair", "poor", "overfitting detected", DIVERGED, "unknown")
