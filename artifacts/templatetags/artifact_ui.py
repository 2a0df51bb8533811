"""Template helpers only the model pages use: stars and convergence badges.

Formatting numbers, money and links shared with the other pages lives in ``pipeline``'s ``ui``
library.
"""

from __future__ import annotations

import math
from typing import Any

from django import template

from pipeline.lib.numbers import as_number

register = template.Library()

CONVERGENCE_TONES = {
    "excellent": "success",
    "good": "info",
    "fair": "warn",
    "poor": "danger",
    "overfitting detected": "danger",
    "diverged": "danger",
}


@register.filter
def convergence_tone(label: Any) -> str:
    return CONVERGENCE_TONES.get(str(label or "").lower(), "neutral")


@register.inclusion_tag("partials/stars.html")
def stars(score: Any, size: str = "sm") -> dict[str, Any]:
    number = as_number(score)
    value = 0 if number is None or not math.isfinite(number) else max(0, min(5, round(number)))
    return {"filled": range(value), "empty": range(5 - value), "value": value, "size": size}


@register.simple_tag
def health_verdict(model: Any) -> dict[str, Any]:
    """The card's health facts from the stored checks (``{% health_verdict model as v %}``)."""
    from artifacts.health.verdict import run_verdict

    health = model.training_health if isinstance(model.training_health, dict) else {}
    quality = model.quality_metrics if isinstance(model.quality_metrics, dict) else {}
    return dict(run_verdict(health, quality))


@register.filter
def loss_value(value: Any) -> str:
    """A loss for a headline: four decimals, or whole thousands once it has blown up (105,340)."""
    number = as_number(value)
    if number is None:
        return "—"
    if not math.isfinite(number):
        return "NaN" if math.isnan(number) else ("∞" if number > 0 else "-∞")
    return f"{number:.4f}" if abs(number) < 1000 else f"{number:,.0f}"
