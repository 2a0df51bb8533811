"""Compare 2-4 of a user's models side by side: which ones, and everything the page and the API show.

The page (``/models/compare``) and the API (``GET /api/models/compare``) read the same ``ids``
parameter with the same rules (:func:`parse_ids`), load the models through
``ModelArtifact.objects.visible_to(user)`` (someone else's or an unknown id is simply not found)
and build one :class:`Comparison`: configuration and health rows (``artifacts.compare``) and each
model's loss history, thinned to at most ``MAX_SERIES_POINTS`` points per series.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from artifacts.charts.loss import MAX_DRAWN_POINTS, thin
from artifacts.compare import CheckRow, ConfigRow, check_rows, config_rows, curves
from artifacts.models import ModelArtifact
from pipeline.models import MetricsPoint

MIN_MODELS, MAX_MODELS = 2, 4
MAX_SERIES_POINTS = MAX_DRAWN_POINTS
MAX_SHOWN_ID = 40  # a malformed id is quoted back at most this long


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
