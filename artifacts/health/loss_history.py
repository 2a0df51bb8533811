"""Reading a run's metrics points: one record per step, finite series, and smoothing.

Shared by the training health checks (``artifacts.health.checks``) and the compare curves
(``artifacts.services.comparison``) so both describe the same history. Points are dicts or objects with
``step``, ``epoch``, ``training_loss`` and ``validation_loss`` (e.g. ``pipeline.models.MetricsPoint``),
in any order. A training loss that is missing (NULL), NaN or infinite counts as non-finite: the
database stores a non-finite training loss as NULL (see ``MetricsPoint.training_loss``), and the
seed's scoring (``artifacts.health.quality``) treats all three alike. A missing validation loss means none
was measured at that step. Duplicate steps (a run resumed from a checkpoint logs some steps
twice) keep the later record.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

# Smoothing weight b of the debiased exponential moving average
# ema_t = b * ema_{t-1} + (1 - b) * x_t, reported as ema_t / (1 - b^t). 0.6 is TensorBoard's default
# (tensorboard/webapp/metrics/store/metrics_types.ts, METRICS_SETTINGS_DEFAULT.scalarSmoothing), so
# the smoothed final losses match what users see in TensorBoard and in W&B's EMA mode, which is
# "implemented to be identical to Tensorboard's smoothing algorithm" (docs.wandb.ai, line-plot
# smoothing). Like TensorBoard's classicSmoothing, non-finite values are skipped.
SMOOTHING_WEIGHT = 0.6


def number(value: Any) -> float | None:
    """A float (possibly NaN or infinite) for a real number; None for anything else."""
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if value is None or kind is bool or not isinstance(value, numbers.Real | Decimal):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):
        return math.inf


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass
class History:
    """A run's points sorted by step, one per step; training and validation series apart."""

    total_points: int
    nonfinite_step: int | None  # the first step with a non-finite loss, if any
    steps: list[int]  # every step logged, sorted
    epochs: dict[int, float]
    train_steps: list[int]
    train: list[float]  # finite training losses only
    val_steps: list[int]
    val: list[float]  # finite validation losses only

    def epoch_at(self, step: int) -> float | None:
        return self.epochs.get(step)


def read_history(points: Iterable[Any]) -> History:
    """Normalize points: usable steps, one record per step (the later wins), finite series."""
    rows: dict[int, list[Any]] = {}
    nonfinite: int | None = None
    total = 0
    for index, point in enumerate(points):
        total += 1
        get = point.get if isinstance(point, (dict, Mapping)) else partial(getattr, point)  # noqa: UP038 (dict first: fast)
        raw_step = number(get("step", None))
        step = int(raw_step) if raw_step is not None and math.isfinite(raw_step) and raw_step >= 0 else index
        epoch = number(get("epoch", None))
        train = number(get("training_loss", None))
        train = train if train is not None else math.nan  # NULL training loss = non-finite
        val = number(get("validation_loss", None))
        if not math.isfinite(train) or (val is not None and not math.isfinite(val)):
            nonfinite = step if nonfinite is None else min(nonfinite, step)
        row = rows.get(step)
        if row is None:
            rows[step] = [epoch, train, val]
        else:
            row[0] = epoch if epoch is not None else row[0]
            row[1] = train
            if val is not None:
                row[2] = val
    history = History(total, nonfinite, sorted(rows), {}, [], [], [], [])
    for step in history.steps:
        epoch, train, val = rows[step]
        if _finite(epoch):
            history.epochs[step] = epoch
        if math.isfinite(train):
            history.train_steps.append(step)
            history.train.append(train)
        if _finite(val):
            history.val_steps.append(step)
            history.val.append(val)
    return history


def smooth(values: Iterable[float], weight: float = SMOOTHING_WEIGHT) -> list[float]:
    """Debiased exponential moving average (TensorBoard's scalar smoothing) of finite values.

    ``ema_t = weight * ema_{t-1} + (1 - weight) * x_t`` starting from 0, divided by
    ``1 - weight**t`` so early values are not pulled toward zero. Non-finite values are skipped.
    """
    out: list[float] = []
    last, decay = 0.0, 1.0
    for value in values:
        if not math.isfinite(value):
            continue
        last = last * weight + (1 - weight) * value
        decay *= weight
        out.append(last / (1 - decay) if decay < 1 else value)
    return out
