"""The training-health checks: their codes and titles, and the rule of each.

``quality_metrics`` (``artifacts.health.quality``) keeps the seed's star rating, which looks only at the
first and last training loss. These checks read every logged point and say, check by check and
in plain sentences, whether the run diverged, overfits, stopped early, stalled or spiked, and
whether there was validation data to judge it by at all. ``artifacts.health.training_health`` runs
them on a run's history and stores the result; the pages, the compare view and the notifications
read the stored checks by the codes and titles in :data:`CHECK_TITLES`. The numbers each rule
judges by, with their reasons, are in ``artifacts.health.thresholds``.

All work is linear in the number of points apart from sorting: 100,000 points take well under a
second.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any, Literal, NotRequired, TypedDict

from artifacts.health.loss_history import History, smooth
from artifacts.health.thresholds import (
    BLOWUP_RATIO,
    LEVEL_PARTS,
    LISTED_SPIKES,
    MAD_TO_SIGMA,
    MIN_TRAINING_POINTS,
    MIN_VALIDATION_POINTS,
    OVERFIT_MIN_RISE,
    OVERFIT_PATIENCE,
    PLATEAU_FRACTION,
    PLATEAU_TOLERANCE,
    SPIKE_MADS,
    SPIKE_MIN_RISE,
    SPIKE_NOISE_WINDOW,
    STILL_IMPROVING_DROP,
    TAIL_FRACTION,
)

Status = Literal["pass", "warn", "fail"]

# Every check's code and the title pages show for it, in the order the checks are judged and
# listed (the detail page's "Why this rating", the compare page's health rows, the API's order).
CHECK_TITLES: dict[str, str] = {
    "diverged": "Divergence",
    "few_points": "Enough history",
    "no_validation": "Validation data",
    "overfitting": "Overfitting",
    "still_improving": "Still improving",
    "plateau": "Plateau",
    "loss_spikes": "Loss spikes",
}
CHECK_ORDER = tuple(CHECK_TITLES)
STATUS_TITLES: dict[str, str] = {"pass": "Pass", "warn": "Warning", "fail": "Fail"}
STATUS_ORDER: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}


class Check(TypedDict):
    code: str
    status: Status
    message: str
    onset_step: NotRequired[int]  # overfitting, plateau: the step it started from
    count: NotRequired[int]  # loss_spikes: how many
    steps: NotRequired[list[int]]  # loss_spikes: the first LISTED_SPIKES of them


def checks_by_code(health: Any) -> dict[str, Mapping[str, Any]]:
    """The stored checks of a ``training_health`` value by code; empty for a missing or odd value."""
    checks = health.get("checks") if isinstance(health, Mapping) else None
    if not isinstance(checks, list):
        return {}
    return {c["code"]: c for c in checks if isinstance(c, Mapping) and isinstance(c.get("code"), str)}


@dataclass
class Levels:
    """Medians of LEVEL_PARTS equal parts of the training history, with each part's first step."""

    values: list[float]
    steps: list[int]

    @classmethod
    def of(cls, steps: Sequence[int], values: Sequence[float]) -> Levels:
        n = len(values)
        parts = min(LEVEL_PARTS, n)
        bounds = [k * n // parts for k in range(parts + 1)]
        return cls(
            values=[median(values[bounds[k] : bounds[k + 1]]) for k in range(parts)],
            steps=[steps[bounds[k]] for k in range(parts)],
        )


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------


def three_digits(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"


def _where(history: History, step: int) -> str:
    epoch = history.epoch_at(step)
    return f"step {step:,} (epoch {epoch:g})" if epoch is not None else f"step {step:,}"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _list_steps(steps: Sequence[int], total: int) -> str:
    shown = [f"{s:,}" for s in steps]
    text = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
    return text + (f" and {total - len(steps):,} more" if total > len(steps) else "")


def _check(code: str, status: Status, message: str, **extra: Any) -> Check:
    check: Check = {"code": code, "status": status, "message": message}
    check.update(extra)  # type: ignore[typeddict-item]
    return check


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


@dataclass
class Facts:
    """What the checks read: the history, its levels and both smoothed series."""

    history: History
    levels: Levels | None
    train_ema: list[float]
    val_ema: list[float]

    @classmethod
    def of(cls, history: History) -> Facts:
        levels = Levels.of(history.train_steps, history.train) if history.train else None
        return cls(history, levels, smooth(history.train), smooth(history.val))


def _diverged(f: Facts) -> Check:
    h = f.history
    if h.nonfinite_step is not None:
        return _check(
            "diverged",
            "fail",
            f"The loss became NaN or infinite at {_where(h, h.nonfinite_step)}: training diverged, "
            "so the adapter may be unusable.",
        )
    if f.levels is not None and len(h.train) >= 2:
        start, end = f.levels.values[0], f.levels.values[-1]
        if start > 0 and end >= BLOWUP_RATIO * start:
            return _check(
                "diverged",
                "fail",
                f"The training loss blew up from {three_digits(start)} at the start to {three_digits(end)} at the end "
                f"({end / start:.1f} times as high): training diverged.",
            )
        if end > start + PLATEAU_TOLERANCE * abs(start):
            return _check(
                "diverged",
                "warn",
                f"The training loss ended higher than it started ({three_digits(start)} to {three_digits(end)}): "
                "training made the model worse on its own data.",
            )
    return _check("diverged", "pass", "No NaN or infinite loss, and the loss did not blow up.")


def _few_points(f: Facts) -> Check:
    n, nv = len(f.history.train), len(f.history.val)
    if n == 0:
        return _check("few_points", "warn", "No finite training loss was logged, so there is nothing to judge.")
    if n < MIN_TRAINING_POINTS:
        return _check(
            "few_points",
            "warn",
            f"Only {n} finite training loss{'' if n == 1 else 'es'} {'was' if n == 1 else 'were'} logged; "
            f"at least {MIN_TRAINING_POINTS} are needed to judge the trend.",
        )
    if 0 < nv < MIN_VALIDATION_POINTS:
        return _check(
            "few_points",
            "warn",
            f"Validation loss was logged at only {plural(nv, 'step')}; at least {MIN_VALIDATION_POINTS} "
            "are needed to tell whether the model overfits.",
        )
    return _check(
        "few_points",
        "pass",
        f"Enough history to judge the run: {n:,} training and {nv:,} validation losses were logged.",
    )


def _no_validation(f: Facts) -> Check:
    nv = len(f.history.val)
    if nv == 0:
        return _check(
            "no_validation",
            "warn",
            "No validation loss was logged, so the rating rests on training loss alone and cannot reveal overfitting.",
        )
    return _check("no_validation", "pass", f"Validation loss was logged at {plural(nv, 'step')}.")


def _overfitting(f: Facts) -> Check:
    h = f.history
    best_index = min(range(len(h.val)), key=h.val.__getitem__)
    best, best_step = h.val[best_index], h.val_steps[best_index]
    threshold = best + OVERFIT_MIN_RISE * abs(best)
    trailing = 0
    for value in reversed(h.val):
        if value <= threshold:
            break
        trailing += 1
    at_best = bisect.bisect_right(h.train_steps, best_step) - 1
    train_falling = f.train_ema[-1] < f.train_ema[max(0, at_best)]
    if trailing >= OVERFIT_PATIENCE and train_falling:
        last, first = h.val[-1], h.val[0]
        message = (
            f"Validation loss rose from its lowest, {three_digits(best)} at {_where(h, best_step)}, "
            f"to {three_digits(last)} at step {h.val_steps[-1]:,} while training loss kept falling: the model "
            f"has overfit since step {best_step:,}, so a checkpoint near that step would likely do better"
        )
        if last > first:
            return _check(
                "overfitting",
                "fail",
                message + f"; it is now worse on held-out data than at the first evaluation ({three_digits(first)}).",
                onset_step=best_step,
            )
        return _check("overfitting", "warn", message + ".", onset_step=best_step)
    if best_index == len(h.val) - 1:
        return _check(
            "overfitting",
            "pass",
            f"Validation loss was at its lowest, {three_digits(best)}, at the last evaluation (step {best_step:,}).",
        )
    return _check(
        "overfitting",
        "pass",
        f"Validation loss reached its lowest, {three_digits(best)}, at step {best_step:,}; the later evaluations show "
        f"no overfitting (a sustained rise of more than {OVERFIT_MIN_RISE:.0%} while training loss falls).",
    )


def _tail_drop(levels: Levels) -> tuple[float, int]:
    """Relative fall of the loss level over the last TAIL_FRACTION of the run, and where it starts."""
    parts = len(levels.values)
    start = max(0, parts - 1 - max(1, round(parts * TAIL_FRACTION)))
    before, end = levels.values[start], levels.values[-1]
    return ((before - end) / abs(before) if before else 0.0), levels.steps[start]


def _still_improving(f: Facts, overfitting: Check | None) -> Check:
    assert f.levels is not None
    if overfitting is not None and overfitting["status"] != "pass":
        return _check("still_improving", "pass", "More epochs would not help: validation loss is already rising.")
    drop, since = _tail_drop(f.levels)
    h = f.history
    if drop >= STILL_IMPROVING_DROP and overfitting is not None and h.val[-1] > min(h.val):
        best_step = h.val_steps[h.val.index(min(h.val))]
        return _check(
            "still_improving",
            "pass",
            f"The training loss was still falling, but validation loss has not improved since step "
            f"{best_step:,}: more epochs would likely not help.",
        )
    if drop >= STILL_IMPROVING_DROP:
        return _check(
            "still_improving",
            "warn",
            f"The training loss was still falling at the end ({drop:.0%} lower since step {since:,}, "
            f"the last {TAIL_FRACTION:.0%} of the run): more epochs may help.",
        )
    return _check(
        "still_improving",
        "pass",
        f"The training loss had levelled off by the end: it changed {-drop:+.1%} over the last "
        f"{TAIL_FRACTION:.0%} of the run, short of the {STILL_IMPROVING_DROP:.0%} fall that would suggest more epochs.",
    )


def _plateau(f: Facts) -> Check:
    assert f.levels is not None
    values, steps = f.levels.values, f.levels.steps
    lowest = min(values)
    target = lowest + PLATEAU_TOLERANCE * abs(lowest)
    onset = next(k for k, value in enumerate(values) if value <= target)
    flat = (len(values) - onset) / len(values)
    if onset == 0:
        return _check(
            "plateau",
            "warn",
            f"The training loss never fell more than {PLATEAU_TOLERANCE:.0%} below where it started "
            f"({three_digits(values[0])}): the model learned little; check the learning rate and the data.",
            onset_step=steps[0],
        )
    if flat >= PLATEAU_FRACTION:
        return _check(
            "plateau",
            "warn",
            f"The training loss has been flat (within {PLATEAU_TOLERANCE:.0%} of its lowest) since step "
            f"{steps[onset]:,}, the last {flat:.0%} of the run: later steps added little, so fewer epochs "
            "would have done.",
            onset_step=steps[onset],
        )
    return _check(
        "plateau",
        "pass",
        f"The training loss kept improving until step {steps[onset]:,}; it did not stall early.",
    )


def _loss_spikes(f: Facts) -> Check:
    h, ema = f.history, f.train_ema
    n = len(h.train)
    # Relative jump of each point above the smoothed level of the points before it.
    jumps = [0.0] + [(h.train[t] - ema[t - 1]) / abs(ema[t - 1]) if ema[t - 1] else 0.0 for t in range(1, n)]
    # Noise is judged per window of the run: relative noise grows as the loss falls, so one scale
    # for the whole run would call every late wobble a spike.
    parts = max(1, min(LEVEL_PARTS, n // SPIKE_NOISE_WINDOW))
    spikes: list[int] = []
    previous = False
    for k in range(parts):
        lo, hi = max(1, k * n // parts), (k + 1) * n // parts
        chunk = jumps[lo:hi]
        if not chunk:
            continue
        center = median(chunk)
        limit = max(SPIKE_MADS * MAD_TO_SIGMA * median(abs(j - center) for j in chunk), SPIKE_MIN_RISE)
        for t in range(lo, hi):
            is_spike = jumps[t] > limit
            if is_spike and not previous:  # neighbouring high points make one spike
                spikes.append(h.train_steps[t])
            previous = is_spike
    rule = (
        f"more than {SPIKE_MIN_RISE:.0%} above the smoothed level before it and far outside the run's "
        "usual step-to-step noise"
    )
    if not spikes:
        return _check("loss_spikes", "pass", f"No loss spikes: no step jumped {rule}.", count=0, steps=[])
    listed = spikes[:LISTED_SPIKES]
    return _check(
        "loss_spikes",
        "warn",
        (
            f"The training loss spiked once, at step {listed[0]:,}: a jump {rule}."
            if len(spikes) == 1
            else f"The training loss spiked {len(spikes):,} times, at steps {_list_steps(listed, len(spikes))}: "
            f"each a jump {rule}."
        ),
        count=len(spikes),
        steps=listed,
    )


def judge(f: Facts) -> dict[str, Check]:
    """The checks of a run, by code, in a fixed order (:data:`CHECK_ORDER`).

    ``diverged``, ``few_points`` and ``no_validation`` are always judged. A trend check
    (``overfitting``, ``still_improving``, ``plateau``, ``loss_spikes``) is left out when it cannot
    be judged (too few points, no validation for ``overfitting``, or a diverged run, whose trend
    means nothing); ``few_points`` or ``no_validation`` then says why.
    """
    history = f.history
    checks: dict[str, Check] = {}
    checks["diverged"] = _diverged(f)
    checks["few_points"] = _few_points(f)
    checks["no_validation"] = _no_validation(f)
    judged = checks["diverged"]["status"] != "fail"
    enough = len(history.train) >= MIN_TRAINING_POINTS
    if judged and len(history.val) >= MIN_VALIDATION_POINTS and len(history.train) >= 2:
        checks["overfitting"] = _overfitting(f)
    if judged and enough:
        checks["still_improving"] = _still_improving(f, checks.get("overfitting"))
        checks["plateau"] = _plateau(f)
    if enough:
        checks["loss_spikes"] = _loss_spikes(f)
    return checks
