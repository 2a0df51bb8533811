"""Compare 2-4 of a user's models side by side: which ones, and the data the page and the API show.

The page (``/models/compare``, ``artifacts.pages.compare``) and the API (``GET /api/models/compare``,
``artifacts.api.compare``) read the same ``ids`` parameter with the same rules (:func:`parse_ids`),
load the models through ``ModelArtifact.objects.visible_to(user)`` (someone else's or an unknown id
is simply not found) and build one :class:`Comparison` (DESIGN §12): configuration rows and health
check rows with a "differs" flag, and each model's loss history, thinned to at most
``MAX_SERIES_POINTS`` points per series. The page draws the curves (``artifacts.charts.compare``)
and offers an "only differences" toggle over the rows (users of MLflow and SageMaker ask for
exactly that: mlflow#10477, sagemaker-feedback#210).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from artifacts.charts.loss import MAX_DRAWN_POINTS, thin
from artifacts.health.checks import CHECK_ORDER, checks_by_code
from artifacts.health.loss_history import read_history, smooth
from artifacts.models import ModelArtifact
from pipeline.models import MetricsPoint

MIN_MODELS, MAX_MODELS = 2, 4
MAX_SERIES_POINTS = MAX_DRAWN_POINTS
MAX_SHOWN_ID = 40  # a malformed id is quoted back at most this long


# ---------------------------------------------------------------------------------------------
# Which models
# ---------------------------------------------------------------------------------------------


class InvalidSelection(ValueError):
    """The ``ids`` parameter does not name 2-4 distinct model ids; the message says why."""


class RepeatedModel(InvalidSelection):
    """One id is chosen twice."""


def parse_ids(values: Iterable[str]) -> list[uuid.UUID]:
    """Model ids from ``ids`` values, each one id or several separated by commas.

    ``?ids=a,b`` (a link) and ``?ids=a&ids=b`` (the list's checkboxes) both work; order is kept.
    """
    tokens = [token.strip() for value in values for token in value.split(",")]
    tokens = [token for token in tokens if token]
    if not tokens:
        raise InvalidSelection(f"Choose {MIN_MODELS} to {MAX_MODELS} models to compare.")
    ids: list[uuid.UUID] = []
    for token in tokens:
        try:
            ids.append(uuid.UUID(token))
        except ValueError:
            shown = token if len(token) <= MAX_SHOWN_ID else token[:MAX_SHOWN_ID] + "…"
            raise InvalidSelection(f"“{shown}” is not a model id.") from None
    seen: set[uuid.UUID] = set()
    for model_id in ids:
        if model_id in seen:
            raise RepeatedModel(f"Model {model_id} is chosen more than once; choose each model once.")
        seen.add(model_id)
    if len(ids) < MIN_MODELS:
        raise InvalidSelection(f"Choose at least {MIN_MODELS} models to compare (you chose {len(ids)}).")
    if len(ids) > MAX_MODELS:
        raise InvalidSelection(f"Compare at most {MAX_MODELS} models at a time (you chose {len(ids)}).")
    return ids


def names_unknown_model(user: Any, values: Iterable[str]) -> bool:
    """Whether any well-formed id in ``values`` is not one of the user's models: such a request is
    a 404 (as for one model) whatever else is wrong with the selection."""
    ids = set()
    for token in (token.strip() for value in values for token in value.split(",")):
        try:
            ids.add(uuid.UUID(token))
        except ValueError:
            continue
    return bool(ids) and ModelArtifact.objects.visible_to(user).filter(pk__in=ids).count() != len(ids)


def load_models(user: Any, ids: Sequence[uuid.UUID]) -> list[ModelArtifact] | None:
    """The user's models in the order asked, or None when any id is not one of them."""
    visible = ModelArtifact.objects.visible_to(user).select_related("dataset", "job")
    found = {m.pk: m for m in visible.filter(pk__in=ids)}
    if len(found) != len(ids):
        return None
    return [found[model_id] for model_id in ids]


# ---------------------------------------------------------------------------------------------
# Configuration and health rows, loss curves
# ---------------------------------------------------------------------------------------------


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


def check_rows(healths: Sequence[Mapping[str, Any] | None]) -> list[CheckRow]:
    """One row per training health check across the models, in the checks' own order (codes
    ``artifacts.health.checks`` does not know follow in first-seen order); ``differs`` when the
    statuses differ."""
    per_model = [checks_by_code(health) for health in healths]
    codes = dict.fromkeys(code for code in CHECK_ORDER if any(code in m for m in per_model))
    for model in per_model:
        codes.update(dict.fromkeys(model))
    rows: list[CheckRow] = []
    for code in codes:
        statuses = [model[code].get("status") if code in model else None for model in per_model]
        messages = [model[code].get("message") if code in model else None for model in per_model]
        rows.append({"code": code, "statuses": statuses, "messages": messages, "differs": len(set(statuses)) > 1})
    return rows


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------


Point = tuple[float, float | None]


@dataclass(frozen=True)
class LossHistory:
    """One model's losses by step, each series thinned to at most ``MAX_SERIES_POINTS`` points.

    ``training`` and ``smoothed_training`` hold None at a step whose training loss was not finite
    (the line breaks there); ``validation`` lists only the steps where it was measured.
    """

    training: list[Point]
    smoothed_training: list[Point]
    validation: list[Point]
    epochs: dict[int, float]
    recorded_steps: int

    @property
    def thinned(self) -> bool:
        return self.recorded_steps > MAX_SERIES_POINTS

    def as_json(self) -> dict[str, Any]:
        def columns(points: list[Point]) -> dict[str, list[Any]]:
            steps = [int(x) for x, _ in points]
            return {
                "steps": steps,
                "epochs": [self.epochs.get(step) for step in steps],
                "loss": [y for _, y in points],
            }

        return {
            "training": columns(self.training),
            "smoothed_training": columns(self.smoothed_training),
            "validation": columns(self.validation),
            "recorded_steps": self.recorded_steps,
            "thinned": self.thinned,
        }


@dataclass(frozen=True)
class Comparison:
    models: list[ModelArtifact]
    histories: list[LossHistory]  # one per model, same order
    configuration: list[ConfigRow]
    checks: list[CheckRow]
    step_range: list[int] | None
    loss_range: list[float] | None


def _points_by_job(models: Sequence[ModelArtifact]) -> dict[Any, list[dict[str, Any]]]:
    """Every model's metrics points in one query."""
    points: dict[Any, list[dict[str, Any]]] = {m.job_id: [] for m in models}
    rows = MetricsPoint.objects.filter(job_id__in=list(points)).values_list(
        "job_id", "step", "epoch", "training_loss", "validation_loss"
    )
    for job_id, step, epoch, train, val in rows.iterator(chunk_size=5000):
        points[job_id].append({"step": step, "epoch": epoch, "training_loss": train, "validation_loss": val})
    return points


def compare(models: Sequence[ModelArtifact]) -> Comparison:
    points = _points_by_job(models)
    drawn = curves([(str(m.pk), points[m.job_id]) for m in models])
    histories = []
    for curve in drawn["series"]:
        steps = curve["steps"]
        histories.append(
            LossHistory(
                training=thin(list(zip(steps, curve["training"], strict=True)), MAX_SERIES_POINTS),
                smoothed_training=thin(list(zip(steps, curve["smoothed_training"], strict=True)), MAX_SERIES_POINTS),
                validation=thin(
                    [(s, v) for s, v in zip(steps, curve["validation"], strict=True) if v is not None],
                    MAX_SERIES_POINTS,
                ),
                epochs={s: e for s, e in zip(steps, curve["epochs"], strict=True) if e is not None},
                recorded_steps=len(steps),
            )
        )
    return Comparison(
        models=list(models),
        histories=histories,
        configuration=config_rows([m.configuration for m in models]),
        checks=check_rows([m.training_health for m in models]),
        step_range=drawn["step_range"],
        loss_range=drawn["loss_range"],
    )
