"""What pages, cards and notifications say about a run, read from its stored health checks.

``artifacts.health.training_health`` judges the history and the result is stored on the artifact;
this module reads it, with the seed's ``quality_metrics``, into the few facts every surface shows
(the worst status, whether an improvement may look like good news, the caveat beside the stars,
the warning before a download, the list card's label: :func:`run_verdict`), so the detail page,
the list card and the ``artifact_ready`` notification cannot disagree with each other or with the
checks. It also computes and stores the health of an artifact (at ingest and from
``recompute_health``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypedDict

from artifacts.health.checks import STATUS_ORDER, Status, checks_by_code
from artifacts.health.loss_history import number
from artifacts.health.training_health import TrainingHealth, training_health
from artifacts.models import ModelArtifact
from pipeline.models import MetricsPoint

POINT_FIELDS = ("step", "epoch", "training_loss", "validation_loss")

NO_HISTORY_CAVEAT = (
    "No training history was recorded, so there was nothing to judge: the 3 stars are the score the "
    "rating gives any run without metrics, not a sign of quality."
)

# Short labels for a list card, by the check that decides the run's health (first match wins).
_CARD_LABELS: tuple[tuple[str, str, str], ...] = (
    ("diverged", "fail", "Diverged"),
    ("overfitting", "fail", "Overfits"),
    ("overfitting", "warn", "Overfits"),
    ("diverged", "warn", "Got worse"),
    ("no_validation", "warn", "No validation data"),
    ("few_points", "warn", "Too little history"),
    ("still_improving", "warn", "Still improving"),
    ("plateau", "warn", "Plateaued"),
    ("loss_spikes", "warn", "Loss spikes"),
)


def health_of_job(job_id: Any) -> TrainingHealth:
    """The training health of a job's whole metrics history."""
    return training_health(MetricsPoint.objects.filter(job_id=job_id).values(*POINT_FIELDS).iterator())


def health_of(artifact: ModelArtifact) -> Mapping[str, Any]:
    """The stored health, or (for an artifact not yet recomputed) the health computed now."""
    stored = artifact.training_health
    if isinstance(stored, Mapping) and isinstance(stored.get("checks"), list):
        return stored
    return health_of_job(artifact.job_id)


def recompute(artifact: ModelArtifact) -> TrainingHealth:
    """Compute and store an artifact's health (quality_metrics and the score are left alone)."""
    health = health_of_job(artifact.job_id)
    verdict = model_verdict(artifact.inspection, health)
    ModelArtifact.objects.filter(pk=artifact.pk).update(training_health=health, verdict=verdict)
    artifact.training_health, artifact.verdict = health, verdict
    return health


def _status(health: Mapping[str, Any], code: str) -> str:
    status = checks_by_code(health).get(code, {}).get("status")
    return status if status in STATUS_ORDER else "pass"


def health_severity(health: Mapping[str, Any]) -> Status:
    """The worst status among the checks: ``fail`` beats ``warn`` beats ``pass``."""
    worst: Status = "pass"
    for check in checks_by_code(health).values():
        status = check.get("status")
        if status == "fail":
            return "fail"
        if status == "warn":
            worst = "warn"
    return worst


def improvement_is_good(health: Mapping[str, Any], quality_metrics: Mapping[str, Any]) -> bool:
    """May a page show the loss improvement as good news (a green "improved")?

    Only for a positive, finite improvement on a run that neither diverged nor overfits, by the
    health checks or by the seed's label ("overfitting detected" from the final gap).
    """
    improvement = number(quality_metrics.get("loss_improvement")) if isinstance(quality_metrics, Mapping) else None
    if improvement is None or not math.isfinite(improvement) or improvement <= 0:
        return False
    if quality_metrics.get("convergence_quality") in {"diverged", "overfitting detected"}:
        return False
    return _status(health, "diverged") == "pass" and _status(health, "overfitting") == "pass"


def rating_caveat(health: Mapping[str, Any], quality_metrics: Mapping[str, Any]) -> str | None:
    """A sentence to show beside the stars when the rating must not stand unqualified, else None."""
    checks = checks_by_code(health)
    if _status(health, "diverged") == "fail":
        return "This run diverged, so its rating says little about the adapter."
    if _status(health, "overfitting") != "pass":
        onset = checks["overfitting"].get("onset_step")
        where = f" after step {onset:,}" if isinstance(onset, int) else ""
        return f"The model overfits{where}; the rating describes the final checkpoint."
    if _status(health, "no_validation") != "pass":
        return "Rated on training loss alone: no validation loss was logged."
    if _status(health, "few_points") != "pass":
        return "Rated on very little history: " + str(checks["few_points"].get("message", "")).rstrip(".") + "."
    return None


def download_warning(health: Mapping[str, Any]) -> str | None:
    """The warning to show before the download button of a diverged run, else None."""
    if _status(health, "diverged") != "fail":
        return None
    reason = str(checks_by_code(health)["diverged"].get("message", "Training diverged."))
    return f"{reason} Test it before relying on it."


class HeadlineFacts(TypedDict):
    severity: Status
    improvement_is_good: bool
    rating_caveat: str | None
    download_warning: str | None


def headline_facts(health: Mapping[str, Any], quality_metrics: Mapping[str, Any]) -> HeadlineFacts:
    """Everything a card or detail header needs to stay consistent with the checks, in one dict."""
    return {
        "severity": health_severity(health),
        "improvement_is_good": improvement_is_good(health, quality_metrics),
        "rating_caveat": rating_caveat(health, quality_metrics),
        "download_warning": download_warning(health),
    }


def has_history(health: Mapping[str, Any]) -> bool:
    """False when no finite training loss was logged at all (the seed's "unknown", 3 stars)."""
    checks = checks_by_code(health)
    few, diverged = checks.get("few_points", {}), checks.get("diverged", {})
    nothing_finite = few.get("status") == "warn" and str(few.get("message", "")).startswith("No finite")
    return not (nothing_finite and diverged.get("status") == "pass")  # a NaN-only run has a history


class RunVerdict(TypedDict):
    severity: Status
    improvement_is_good: bool
    rating_caveat: str | None
    download_warning: str | None
    has_history: bool
    has_validation: bool
    rests_on_training_alone: bool
    card_label: str
    summary: str


def run_verdict(health: Mapping[str, Any], quality_metrics: Mapping[str, Any]) -> RunVerdict:
    """Everything a page or notification states about the run, consistent with the checks."""
    quality = quality_metrics if isinstance(quality_metrics, Mapping) else {}
    facts = headline_facts(health, quality)
    checks = checks_by_code(health)
    history = has_history(health)
    severity: Status = facts["severity"]
    if quality.get("convergence_quality") == "diverged":
        severity = "fail"
    caveat = facts["rating_caveat"] if history else NO_HISTORY_CAVEAT
    no_validation = checks.get("no_validation", {}).get("status") == "warn"
    label = "Healthy"
    if not checks:
        label = "Not checked yet"
    elif not history:
        label = "No history to judge"
    else:
        label = next(
            (text for code, status, text in _CARD_LABELS if checks.get(code, {}).get("status") == status),
            "Healthy",
        )
    return {
        "severity": severity,
        "improvement_is_good": facts["improvement_is_good"],
        "rating_caveat": caveat,
        "download_warning": facts["download_warning"],
        "has_history": history,
        "has_validation": history and not no_validation,
        "rests_on_training_alone": history and no_validation,
        "card_label": label,
        "summary": str(health.get("summary") or "") if isinstance(health, Mapping) else "",
    }


def _inspection_reason(inspection: Any) -> str | None:
    """Why the adapter is unusable, in one sentence, when its inspection says so."""
    if not isinstance(inspection, Mapping) or inspection.get("verdict") != "unusable":
        return None
    from artifacts.inspection.summary import inspection_sentence

    sentence = inspection_sentence(inspection)
    if sentence:
        return str(sentence)
    findings = inspection.get("findings")
    errors = [
        str(f.get("message"))
        for f in (findings if isinstance(findings, list) else [])
        if isinstance(f, Mapping) and f.get("severity") == "error" and f.get("message")
    ]
    return errors[0] if errors else "The adapter's files failed inspection."


def ready_message(name: str, score: Any, health: Mapping[str, Any], quality: Mapping[str, Any], inspection: Any) -> str:
    """The ``artifact_ready`` message: which model, its stars, and what its health checks found.

    A diverged or unusable run is never announced as plainly "ready".
    """
    v = run_verdict(health, quality)
    stars = f"Quality score: {score}/5 stars"  # the seed's sentence, last
    unusable = _inspection_reason(inspection)
    if unusable:
        return f'"{name}" is stored but not ready to use. {unusable.rstrip()} {stars}'
    if v["download_warning"]:
        return f'"{name}" is stored, but training diverged: {v["summary"]} {stars}'
    if not v["has_history"]:
        return f'"{name}" is ready. No training history was recorded, so there was nothing to judge. {stars}'
    if v["rating_caveat"]:
        return f'"{name}" is ready, with a caveat: {v["summary"]} {stars}'
    return f'"{name}" is ready. {v["summary"]} {stars}'


# DESIGN §14's one verdict of a model, stored on the artifact (``ModelArtifact.verdict``) so lists
# filter on it: every page, the API, the notification and the CLI show this word first.
UNUSABLE, WARNINGS, OK = "unusable", "warnings", "ok"
MODEL_VERDICTS = (OK, WARNINGS, UNUSABLE)


def model_verdict(inspection: Any, health: Any) -> str:
    """``unusable`` when the adapter cannot be used as delivered (its inspection says so) or the run
    diverged; ``warnings`` when the inspection warns or any health check does not pass; else ``ok``."""
    found = inspection.get("verdict") if isinstance(inspection, Mapping) else None
    checks = health if isinstance(health, Mapping) else {}
    if found == UNUSABLE or _status(checks, "diverged") == "fail":
        return UNUSABLE
    if found == WARNINGS or health_severity(checks) != "pass":
        return WARNINGS
    return OK
