"""A run's training health: the checks of its whole loss history, a summary sentence, its best step.

:func:`training_health` reads the metrics points (``artifacts.health.loss_history``: any order,
NULL, NaN and repeated steps handled there), runs the checks (``artifacts.health.checks``) and
writes the one-sentence summary the pages lead with. The result is stored on the artifact as
``training_health`` (``artifacts.health.verdict.recompute``), returned by the detail API and read
by the "Why this rating" section, the list card and the compare view.

Input is any iterable of points with ``step``, ``epoch``, ``training_loss`` and
``validation_loss`` (dicts or objects such as ``pipeline.models.MetricsPoint``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

from artifacts.health.checks import Check, Facts, judge, plural, three_digits
from artifacts.health.loss_history import read_history
from artifacts.health.thresholds import MIN_TRAINING_POINTS


class TrainingHealth(TypedDict):
    summary: str
    best_step: int | None
    best_validation_loss: float | None
    smoothed_final_training_loss: float | None
    smoothed_final_validation_loss: float | None
    checks: list[Check]


def _summary(f: Facts, checks: dict[str, Check]) -> str:
    h = f.history
    if h.total_points == 0:
        return "No training history was recorded, so this run cannot be judged."
    diverged = checks["diverged"]
    if diverged["status"] == "fail":
        return diverged["message"]
    n = len(h.train)
    if n < MIN_TRAINING_POINTS:
        return f"Only {n:,} finite training loss{'' if n == 1 else 'es'} logged: too little history to judge this run."
    if "overfitting" in checks and checks["overfitting"]["status"] != "pass":
        onset = checks["overfitting"]["onset_step"]
        return (
            f"The model began to overfit at step {onset:,}: validation loss rose while training loss kept "
            "falling, so a checkpoint near that step would likely do better."
        )
    assert f.levels is not None
    start, end = f.levels.values[0], f.train_ema[-1]
    if diverged["status"] == "warn":
        return (
            f"Training made the model worse: the training loss rose from {three_digits(start)} to {three_digits(end)}."
        )
    plateau = checks["plateau"]
    if plateau["status"] == "warn" and plateau.get("onset_step") == f.levels.steps[0]:
        return (
            f"The training loss barely moved (from {three_digits(start)} to {three_digits(end)}): "
            "the model learned little."
        )
    fell = f"{1 - end / start:.0%} " if start > 0 else ""
    head = (
        f"Training loss fell {fell}from {three_digits(start)} at the start to {three_digits(end)} at the end (smoothed)"
    )
    if checks["no_validation"]["status"] != "pass":
        return head + ", but no validation loss was logged, so overfitting cannot be ruled out."
    if checks["still_improving"]["status"] != "pass":
        return head + " and was still falling at the end, so more epochs may help."
    if plateau["status"] != "pass":
        return head + f", but it has been flat since step {plateau['onset_step']:,}, so fewer epochs would have done."
    spikes = checks["loss_spikes"]
    if spikes["status"] != "pass":
        return head + f", with {plural(spikes.get('count', 0), 'loss spike')} along the way."
    if "overfitting" in checks:
        best = min(h.val)
        return head + f", and validation loss reached {three_digits(best)} with no sign of overfitting."
    return head + "."


def training_health(points: Iterable[Any]) -> TrainingHealth:
    """Judge a run from its metrics history; see the module docstring and DESIGN §11.

    The checks come in the order of ``artifacts.health.checks.judge``, trend checks left out when
    they cannot be judged.
    """
    facts = Facts.of(read_history(points))
    checks = judge(facts)
    history = facts.history
    best_step: int | None = None
    best_val: float | None = None
    if history.val:
        best_index = min(range(len(history.val)), key=history.val.__getitem__)
        best_step, best_val = history.val_steps[best_index], history.val[best_index]
    return {
        "summary": _summary(facts, checks),
        "best_step": best_step,
        "best_validation_loss": best_val,
        "smoothed_final_training_loss": facts.train_ema[-1] if facts.train_ema else None,
        "smoothed_final_validation_loss": facts.val_ema[-1] if facts.val_ema else None,
        "checks": list(checks.values()),
    }
