"""What the model detail page shows about training health: headline, caveats, checks, chart marks.

Everything is derived from the artifact's ``training_health`` (``artifacts.health.verdict``) so the
headline, the Quality card, the "Why this rating" section and the chart never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from artifacts.charts.loss import ChartMarker, loss_chart
from artifacts.health.checks import CHECK_TITLES, STATUS_TITLES, checks_by_code
from artifacts.health.rating import rating_reason, scoring_rule
from artifacts.health.verdict import health_of, run_verdict
from artifacts.models import ModelArtifact
from artifacts.pages.edit import edit_context
from pipeline.lib.numbers import finite_number

# (icon, css class) by severity: a green check only when every check passed.
SEVERITY_ICONS = {
    "pass": ("check-circle", "icon--success"),
    "warn": ("alert", "icon--warn"),
    "fail": ("alert", "icon--danger"),
}


def chart_markers(health: Mapping[str, Any]) -> list[ChartMarker]:
    """The best validation step and the overfitting onset; one mark when they coincide."""
    best = health.get("best_step") if isinstance(health, Mapping) else None
    overfitting = checks_by_code(health).get("overfitting")
    onset = overfitting.get("onset_step") if overfitting and overfitting.get("status") != "pass" else None
    markers: list[ChartMarker] = []
    if isinstance(best, int) and best == onset:
        return [ChartMarker(best, "Best · overfits after", "chart__marker--onset")]
    if isinstance(best, int):
        markers.append(ChartMarker(best, "Best validation", "chart__marker--best"))
    if isinstance(onset, int):
        markers.append(ChartMarker(onset, "Overfits from", "chart__marker--onset"))
    return markers


def health_context(artifact: ModelArtifact, points: Any) -> dict[str, Any]:
    """The page's health facts and its loss chart (marked with the best step and overfitting onset)."""
    health = health_of(artifact)
    chart = loss_chart(points, markers=chart_markers(health))
    quality = artifact.quality_metrics if isinstance(artifact.quality_metrics, dict) else {}
    v = run_verdict(health, quality)
    listed = health.get("checks")
    raw_checks: list[Any] = listed if isinstance(listed, list) else []
    checks = [
        {
            **c,
            "title": CHECK_TITLES.get(str(c.get("code")), str(c.get("code"))),
            "word": STATUS_TITLES.get(str(c.get("status")), "—"),
        }
        for c in raw_checks
        if isinstance(c, Mapping)
    ]
    validation = chart.validation.finite
    icon, icon_class = SEVERITY_ICONS[v["severity"]]
    if not v["has_history"]:
        icon, icon_class = SEVERITY_ICONS["warn"]
    return {
        **edit_context(artifact),
        "chart": chart,
        "health": health,
        "verdict": v,
        "health_checks": checks,
        "rating_reason": rating_reason(quality),
        "scoring_rule": scoring_rule(),
        "quality_icon": icon,
        "quality_icon_class": icon_class,
        "final_validation_loss": validation[-1][1] if validation else None,
        "final_validation_step": validation[-1][0] if validation else None,
        "best_validation_loss": finite_number(health.get("best_validation_loss")),
        "best_step": health.get("best_step"),
    }
