"""Training health: an honest, explained reading of a run's whole loss history.

``quality_metrics`` (``artifacts.health.quality``) keeps the seed's star rating, which looks only at the
first and last training loss. This module reads every logged point and says, check by check and
in plain sentences, whether the run diverged, overfits, stopped early, stalled or spiked, and
whether there was validation data to judge it by at all. The result is ``training_health`` in the
detail API and the "Why this rating" section of the page.

Input is any iterable of points with ``step``, ``epoch``, ``training_loss`` and
``validation_loss`` (dicts or objects such as ``pipeline.models.MetricsPoint``), in any order,
read by ``artifacts.health.loss_history`` (which says how NULL, NaN and duplicate steps count). All work
is linear in the number of points apart from sorting: 100,000 points take well under a second.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any, Literal, NotRequired, TypedDict

from artifacts.health.loss_history import History, number, read_history, smooth

Status = Literal["pass", "warn", "fail"]

# Fewer training losses than this and trends (plateau, still improving, spikes) are noise: with 10
# points the "last fifth" of a run is two points. Below it only the divergence check is judged.
MIN_TRAINING_POINTS = 10

# Overfitting needs a minimum and evidence of a rise after it: at least three evaluations.
MIN_VALIDATION_POINTS = 3

# Trend checks compare robust levels: the training history is cut into this many equal parts and
# each part's median is its level, so a single noisy batch cannot move a level. 20 parts make the
# first level the "median of the first 5%" the research note proposes as the start reference
# (research/peers-and-serving-rules.md §5.1).
LEVEL_PARTS = 20

# Share of the run at the end over which "still improving" measures the fall ("the last 20% of
# steps", research/peers-and-serving-rules.md §5.2).
TAIL_FRACTION = 0.2

# "Still improving" when the loss level fell by at least this share over the tail. 5% over the
# last fifth of a run is a gain a user would notice from one more epoch, and well above the level
# noise of a converged run (a median over 5% of the points).
STILL_IMPROVING_DROP = 0.05

# A level within this share of the lowest level counts as "flat". 2% sits above level noise and
# below any gain worth paying for.
PLATEAU_TOLERANCE = 0.02

# "Plateau" when the loss has been flat for at least this share of the run: half the compute
# bought (almost) nothing, so fewer epochs or a higher learning rate would have done.
PLATEAU_FRACTION = 0.5

# "Diverged" when the end level is at least this multiple of the start level: the run made the
# model more than twice as wrong on its own training data as before fine-tuning began. Any rise
# above the start (beyond PLATEAU_TOLERANCE) is a warning.
BLOWUP_RATIO = 2.0

# Overfitting follows the semantics of Hugging Face's EarlyStoppingCallback
# (transformers trainer_callback.py: an evaluation counts as an improvement only if it beats the
# best by more than early_stopping_threshold; early_stopping_patience evaluations without one stop
# training). The last OVERFIT_PATIENCE evaluations must all sit more than OVERFIT_MIN_RISE above
# the lowest validation loss while the training loss kept falling. The 5% threshold keeps the
# wobble of a converged run's evaluations from counting; a patience of 2 ignores one unlucky eval.
OVERFIT_MIN_RISE = 0.05
OVERFIT_PATIENCE = 2

# A spike is a training loss above the smoothed level of the points before it by more than
# SPIKE_MADS robust standard deviations (1.4826 x the median absolute deviation of these relative
# jumps) and by at least SPIKE_MIN_RISE. The research note proposes 4 MAD (§5.3); 4 raw MAD is
# about 2.7 standard deviations, which flags one point in ~300 of pure noise, too many for runs
# that log 100,000 steps, so we use 6 scaled MAD (one false alarm in ~10^9 points of Gaussian
# noise). The 25% floor keeps nearly noise-free synthetic curves from reporting ripples.
SPIKE_MADS = 6.0
SPIKE_MIN_RISE = 0.25
MAD_TO_SIGMA = 1.4826

# Step-to-step noise is measured over windows of at least this many points (up to LEVEL_PARTS
# windows): enough that one spike cannot inflate the median absolute deviation of its own window.
SPIKE_NOISE_WINDOW = 20

# The spike check lists at most this many steps (the count is always complete).
LISTED_SPIKES = 10


class Check(TypedDict):
    code: str
    status: Status
    message: str
    onset_step: NotRequired[int]  # overfitting, plateau: the step it started from
    count: NotRequired[int]  # loss_spikes: how many
    steps: NotRequired[list[int]]  # loss_spikes: the first LISTED_SPIKES of them


class TrainingHealth(TypedDict):
    summary: str
    best_step: int | None
    best_validation_loss: float | None
    smoothed_final_training_loss: float | None
    smoothed_final_validation_loss: float | None
    checks: list[Check]


STATUS_ORDER: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}


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


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"


def _where(history: History, step: int) -> str:
    epoch = history.epoch_at(step)
    return f"step {step:,} (epoch {epoch:g})" if epoch is not None else f"step {step:,}"


def _plural(count: int, word: str) -> str:
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
class _Facts:
    history: History
    levels: Levels | None
    train_ema: list[float]
    val_ema: list[float]


def _diverged(f: _Facts) -> Check:
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
                f"The training loss blew up from {_fmt(start)} at the start to {_fmt(end)} at the end "
                f"({end / start:.1f} times as high): training diverged.",
            )
        if end > start + PLATEAU_TOLERANCE * abs(start):
            return _check(
                "diverged",
                "warn",
                f"The training loss ended higher than it started ({_fmt(start)} to {_fmt(end)}): "
                "training made the model worse on its own data.",
            )
    return _check("diverged", "pass", "No NaN or infinite loss, and the loss did not blow up.")


def _few_points(f: _Facts) -> Check:
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
            f"Validation loss was logged at only {_plural(nv, 'step')}; at least {MIN_VALIDATION_POINTS} "
            "are needed to tell whether the model overfits.",
        )
    return _check(
        "few_points",
        "pass",
        f"Enough history to judge the run: {n:,} training and {nv:,} validation losses were logged.",
    )


def _no_validation(f: _Facts) -> Check:
    nv = len(f.history.val)
    if nv == 0:
        return _check(
            "no_validation",
            "warn",
            "No validation loss was logged, so the rating rests on training loss alone and cannot reveal overfitting.",
        )
    return _check("no_validation", "pass", f"Validation loss was logged at {_plural(nv, 'step')}.")


def _overfitting(f: _Facts) -> Check:
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
            f"Validation loss rose from its lowest, {_fmt(best)} at {_where(h, best_step)}, to {_fmt(last)} at "
            f"step {h.val_steps[-1]:,} while training loss kept falling: the model has overfit since step "
            f"{best_step:,}, so a checkpoint near that step would likely do better"
        )
        if last > first:
            return _check(
                "overfitting",
                "fail",
                message + f"; it is now worse on held-out data than at the first evaluation ({_fmt(first)}).",
                onset_step=best_step,
            )
        return _check("overfitting", "warn", message + ".", onset_step=best_step)
    if best_index == len(h.val) - 1:
        return _check(
            "overfitting",
            "pass",
            f"Validation loss was at its lowest, {_fmt(best)}, at the last evaluation (step {best_step:,}).",
        )
    return _check(
        "overfitting",
        "pass",
        f"Validation loss reached its lowest, {_fmt(best)}, at step {best_step:,}; the later evaluations show "
        f"no overfitting (a sustained rise of more than {OVERFIT_MIN_RISE:.0%} while training loss falls).",
    )


def _tail_drop(levels: Levels) -> tuple[float, int]:
    """Relative fall of the loss level over the last TAIL_FRACTION of the run, and where it starts."""
    parts = len(levels.values)
    start = max(0, parts - 1 - max(1, round(parts * TAIL_FRACTION)))
    before, end = levels.values[start], levels.values[-1]
    return ((before - end) / abs(before) if before else 0.0), levels.steps[start]


def _still_improving(f: _Facts, overfitting: Check | None) -> Check:
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


def _plateau(f: _Facts) -> Check:
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
            f"({_fmt(values[0])}): the model learned little; check the learning rate and the data.",
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


def _loss_spikes(f: _Facts) -> Check:
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


# ---------------------------------------------------------------------------------------------
# The summary and the public functions
# ---------------------------------------------------------------------------------------------


def _summary(f: _Facts, checks: dict[str, Check]) -> str:
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
        return f"Training made the model worse: the training loss rose from {_fmt(start)} to {_fmt(end)}."
    plateau = checks["plateau"]
    if plateau["status"] == "warn" and plateau.get("onset_step") == f.levels.steps[0]:
        return f"The training loss barely moved (from {_fmt(start)} to {_fmt(end)}): the model learned little."
    fell = f"{1 - end / start:.0%} " if start > 0 else ""
    head = f"Training loss fell {fell}from {_fmt(start)} at the start to {_fmt(end)} at the end (smoothed)"
    if checks["no_validation"]["status"] != "pass":
        return head + ", but no validation loss was logged, so overfitting cannot be ruled out."
    if checks["still_improving"]["status"] != "pass":
        return head + " and was still falling at the end, so more epochs may help."
    if plateau["status"] != "pass":
        return head + f", but it has been flat since step {plateau['onset_step']:,}, so fewer epochs would have done."
    spikes = checks["loss_spikes"]
    if spikes["status"] != "pass":
        return head + f", with {_plural(spikes.get('count', 0), 'loss spike')} along the way."
    if "overfitting" in checks:
        best = min(h.val)
        return head + f", and validation loss reached {_fmt(best)} with no sign of overfitting."
    return head + "."


def training_health(points: Iterable[Any]) -> TrainingHealth:
    """Judge a run from its metrics history; see the module docstring and DESIGN §11.

    Checks come in a fixed order: ``diverged``, ``few_points``, ``no_validation``, then the trend
    checks ``overfitting``, ``still_improving``, ``plateau``, ``loss_spikes``. A trend check is
    left out when it cannot be judged (too few points, no validation for ``overfitting``, or a
    diverged run, whose trend means nothing); ``few_points`` or ``no_validation`` then says why.
    """
    history = read_history(points)
    train_ema = smooth(history.train)
    val_ema = smooth(history.val)
    levels = Levels.of(history.train_steps, history.train) if history.train else None
    facts = _Facts(history, levels, train_ema, val_ema)

    checks: dict[str, Check] = {}
    checks["diverged"] = _diverged(facts)
    checks["few_points"] = _few_points(facts)
    checks["no_validation"] = _no_validation(facts)
    judged = checks["diverged"]["status"] != "fail"
    enough = len(history.train) >= MIN_TRAINING_POINTS
    if judged and len(history.val) >= MIN_VALIDATION_POINTS and len(history.train) >= 2:
        checks["overfitting"] = _overfitting(facts)
    if judged and enough:
        checks["still_improving"] = _still_improving(facts, checks.get("overfitting"))
        checks["plateau"] = _plateau(facts)
    if enough:
        checks["loss_spikes"] = _loss_spikes(facts)

    best_step: int | None = None
    best_val: float | None = None
    if history.val:
        best_index = min(range(len(history.val)), key=history.val.__getitem__)
        best_step, best_val = history.val_steps[best_index], history.val[best_index]
    return {
        "summary": _summary(facts, checks),
        "best_step": best_step,
        "best_validation_loss": best_val,
        "smoothed_final_training_loss": train_ema[-1] if train_ema else None,
        "smoothed_final_validation_loss": val_ema[-1] if val_ema else None,
        "checks": list(checks.values()),
    }


def _checks(health: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    checks = health.get("checks") if isinstance(health, Mapping) else None
    if not isinstance(checks, list):
        return {}
    return {c["code"]: c for c in checks if isinstance(c, Mapping) and isinstance(c.get("code"), str)}


def _status(health: Mapping[str, Any], code: str) -> str:
    status = _checks(health).get(code, {}).get("status")
    return status if status in STATUS_ORDER else "pass"


def health_severity(health: Mapping[str, Any]) -> Status:
    """The worst status among the checks: ``fail`` beats ``warn`` beats ``pass``."""
    worst: Status = "pass"
    for check in _checks(health).values():
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
    checks = _checks(health)
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
    reason = str(_checks(health)["diverged"].get("message", "Training diverged."))
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
