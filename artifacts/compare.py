"""Side-by-side comparison data: configuration and health rows with a "differs" flag, loss curves.

Plain data for ``GET /api/models/compare`` and the compare page (DESIGN §12); the page draws the
curves (the SVG geometry lives with the chart code) and offers an "only differences" toggle over
the rows (users of MLflow and SageMaker ask for exactly that: mlflow#10477, sagemaker-feedback#210).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from artifacts.health.loss_history import read_history, smooth


class ConfigRow(TypedDict):
    key: str  # dotted path, e.g. "hyperparameters.learning_rate"
    section: str  # "" for top-level keys, else the first path element, e.g. "hyperparameters"
    name: str  # the last path element, e.g. "learning_rate"
    values: list[Any]  # one per model, None where the model lacks the key
    differs: bool


class Curve(TypedDict):
    id: str
    steps: list[int]
    epochs: list[float | None]
    training: list[float | None]  # None: a non-finite training loss (a gap in the line)
    smoothed_training: list[float | None]  # the debiased EMA of the training loss, same gaps
    validation: list[float | None]  # None: no validation measured at that step


class Curves(TypedDict):
    series: list[Curve]
    step_range: list[int] | None  # [lowest, highest] over every model, for a shared x axis
    epoch_range: list[float] | None
    loss_range: list[float] | None  # over every finite training and validation loss


def _flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts become dotted keys; lists and scalars are leaves."""
    if not isinstance(config, Mapping):
        return {}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _comparable(value: Any) -> Any:
    """A form in which equal settings compare equal: 2e-4 == 0.0002, 16 == 16.0, NaN == NaN, a
    list of module names in any order; but True is not 1."""
    if isinstance(value, bool) or value is None:
        return ("bool", value)
    if isinstance(value, int | float):
        return ("nan",) if isinstance(value, float) and math.isnan(value) else ("number", float(value))
    if isinstance(value, list | tuple):
        items = [_comparable(item) for item in value]
        if all(isinstance(item, str) for item in value):
            return ("set", tuple(sorted(set(value))))
        return ("list", tuple(repr(item) for item in items))
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), repr(_comparable(v))) for k, v in value.items())))
    return ("other", repr(value))


def config_rows(models_configs: Sequence[Mapping[str, Any] | None]) -> list[ConfigRow]:
    """One row per setting found in any model's configuration, in first-seen order.

    ``differs`` is True when the models do not all share the value (a setting one model lacks
    differs from one another model has); with a single model nothing differs.
    """
    flats = [_flatten(config) for config in models_configs]
    keys: dict[str, None] = {}
    for flat in flats:
        keys.update(dict.fromkeys(flat))
    rows: list[ConfigRow] = []
    for key in keys:
        values = [flat.get(key) for flat in flats]
        present = [key in flat for flat in flats]
        forms = {(p, repr(_comparable(v))) for p, v in zip(present, values, strict=True)}
        section, _, name = key.rpartition(".")
        rows.append(
            {
                "key": key,
                "section": section.split(".")[0] if section else "",
                "name": name,
                "values": values,
                "differs": len(forms) > 1,
            }
        )
    return rows


def _range(values: Iterable[float]) -> list[float] | None:
    low = high = None
    for value in values:
        if low is None or value < low:
            low = value
        if high is None or value > high:
            high = value
    return None if low is None or high is None else [low, high]


def curves(histories: Mapping[str, Iterable[Any]] | Sequence[tuple[str, Iterable[Any]]]) -> Curves:
    """Per-model loss series on shared axes, from each model's metrics points.

    ``histories`` maps a model id to its points (dicts or ``MetricsPoint`` objects, any order), or
    is a sequence of ``(id, points)`` pairs; the output keeps that order. Points are read as the
    training health reads them (sorted by step, one per step, the later record winning), so the
    curves and the health checks describe the same history. Each series is three aligned lists
    over its steps, and epochs allow an epoch axis when batch sizes, hence steps, differ.
    """
    pairs = list(histories.items()) if isinstance(histories, Mapping) else list(histories)
    series: list[Curve] = []
    for model_id, points in pairs:
        table: dict[int, list[Any]] = {}
        history = read_history(points)
        for step, loss in zip(history.train_steps, history.train, strict=True):
            table.setdefault(step, [None, None])[0] = loss
        for step, loss in zip(history.val_steps, history.val, strict=True):
            table.setdefault(step, [None, None])[1] = loss
        for step in history.steps:  # steps whose training loss was non-finite: a gap
            table.setdefault(step, [None, None])
        steps = sorted(table)
        smoothed = dict(zip(history.train_steps, smooth(history.train), strict=True))
        series.append(
            {
                "id": str(model_id),
                "steps": steps,
                "epochs": [history.epochs.get(step) for step in steps],
                "training": [table[step][0] for step in steps],
                "smoothed_training": [smoothed.get(step) for step in steps],
                "validation": [table[step][1] for step in steps],
            }
        )
    step_range = _range(step for curve in series for step in curve["steps"])
    epoch_range = _range(e for curve in series for e in curve["epochs"] if e is not None)
    loss_range = _range(
        loss
        for curve in series
        for column in (curve["training"], curve["validation"])
        for loss in column
        if loss is not None
    )
    return {
        "series": series,
        "step_range": [int(step_range[0]), int(step_range[1])] if step_range else None,
        "epoch_range": epoch_range,
        "loss_range": loss_range,
    }


class CheckRow(TypedDict):
    code: str
    statuses: list[str | None]  # one per model; None where the check was not judged for it
    messages: list[str | None]
    differs: bool


CHECK_ORDER = ("diverged", "few_points", "no_validation", "overfitting", "still_improving", "plateau", "loss_spikes")


def check_rows(healths: Sequence[Mapping[str, Any] | None]) -> list[CheckRow]:
    """One row per training health check across the models, in the checks' own order (codes
    this module does not know follow in first-seen order); ``differs`` when the statuses differ."""
    per_model: list[dict[str, Mapping[str, Any]]] = []
    for health in healths:
        checks = health.get("checks") if isinstance(health, Mapping) else None
        found = checks if isinstance(checks, list) else []
        per_model.append({c["code"]: c for c in found if isinstance(c, Mapping) and isinstance(c.get("code"), str)})
    codes = dict.fromkeys(code for code in CHECK_ORDER if any(code in m for m in per_model))
    for model in per_model:
        codes.update(dict.fromkeys(model))
    rows: list[CheckRow] = []
    for code in codes:
        statuses = [model[code].get("status") if code in model else None for model in per_model]
        messages = [model[code].get("message") if code in model else None for model in per_model]
        rows.append({"code": code, "statuses": statuses, "messages": messages, "differs": len(set(statuses)) > 1})
    return rows
