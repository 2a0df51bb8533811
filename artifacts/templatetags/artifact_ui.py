"""Template helpers only the model pages use: stars and convergence badges.

Formatting numbers, money and links shared with the other pages lives in ``pipeline``'s ``ui``
library.
"""

from __future__ import annotations

import math
from typing import Any

from django import template

from pipeline.lib.numbers import as_number, format_loss

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
    return format_loss(value)


# The model's one verdict (DESIGN §14, ``ModelArtifact.verdict``) as every page shows it, first:
# the same words as the compare page and the API.
VERDICT_WORDS = {"ok": ("OK", "success"), "warnings": ("Warnings", "warn"), "unusable": ("Unusable", "danger")}


def verdict_reasons(model: Any) -> list[str]:
    """What makes a model unusable, in the checks' own sentences: the inspection's errors, then
    the diverged check's message. Empty for a usable model."""
    from artifacts.health.checks import checks_by_code
    from artifacts.inspection.summary import findings

    if getattr(model, "verdict", None) != "unusable":
        return []
    errors = [f for f in findings(model.inspection) if f.get("severity") == "error" and f.get("message")]
    reasons = [str(f["message"]) for f in errors]
    diverged = checks_by_code(model.training_health).get("diverged", {})
    if diverged.get("status") == "fail":
        reasons.append(str(diverged.get("message") or "Training diverged."))
    return reasons or ["The adapter failed its checks."]


@register.simple_tag
def model_verdict_view(model: Any) -> dict[str, Any]:
    """The verdict badge of a model (``{% model_verdict_view model as mv %}``)."""
    verdict = getattr(model, "verdict", None)
    if verdict not in VERDICT_WORDS:
        verdict = "ok"
    label, tone = VERDICT_WORDS[verdict]
    reasons = verdict_reasons(model)
    titles = {
        "ok": "Inspection and training health checks passed",
        "warnings": "Usable, with warnings from the inspection or the training health checks",
        "unusable": "Unusable as delivered: " + " ".join(reasons),
    }
    return {"verdict": verdict, "label": label, "tone": tone, "title": titles[verdict], "reasons": reasons}
