"""The compare page, ``/models/compare?ids=a,b[,c,d]``: 2-4 of the user's models side by side.

Same selection rules and data as ``GET /api/models/compare`` (``artifacts.services.comparison``).
Configuration shows only the settings that differ unless ``show=all``; the link works without
JavaScript and the script switches the rows in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from artifacts.charts.compare import ModelSeries, multi_chart
from artifacts.health.checks import CHECK_TITLES, STATUS_TITLES
from artifacts.services.comparison import MAX_MODELS, MIN_MODELS, InvalidSelection, compare, load_models, parse_ids
from pipeline.lib.numbers import binary_size, format_loss

LETTERS = "ABCD"
SECTION_LABELS = {"hyperparameters": "Training", "gpu_config": "GPU"}
SETTING_LABELS = {
    "preset_id": "Preset",
    "learning_rate": "Learning rate",
    "batch_size": "Batch size",
    "rank": "LoRA rank",
    "lora_alpha": "LoRA alpha",
    "lora_dropout": "LoRA dropout",
    "base_model": "Base model",
    "target_modules": "Target modules",
    "dtype": "Data type",
    "type": "GPU type",
    "count": "GPU count",
}
STATUS_TONES = {"pass": "success", "warn": "warn", "fail": "danger"}
VERDICT_BADGES = {"ok": ("OK", "success"), "warnings": ("Warnings", "warn"), "unusable": ("Unusable", "danger")}
ADAPTER_FACTS = [
    ("format", "Format"),
    ("peft_type", "PEFT type"),
    ("task_type", "Task type"),
    ("base_model", "Base model"),
    ("r", "Rank (r)"),
    ("lora_alpha", "LoRA alpha"),
    ("target_modules", "Target modules"),
    ("tensors", "Tensors"),
    ("parameters", "Parameters"),
    ("dtypes", "Data types"),
    ("size", "Adapter size"),
]
NOT_SET = "—"


@dataclass
class Cell:
    text: str
    badge: str = ""  # badge tone ("success", "warn", …) when the cell is a status
    note: str = ""  # a sentence under the value
    missing: bool = False


@dataclass
class Row:
    label: str
    cells: list[Cell]
    differs: bool
    section: str = ""


def humanize(name: str) -> str:
    return SETTING_LABELS.get(name) or name.replace("_", " ").capitalize()


def show(value: Any) -> str:
    """A configuration value as a person reads it."""
    if value is None:
        return NOT_SET
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return "not finite" if not math.isfinite(value) else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(show(item) for item in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show(v)}" for k, v in value.items()) or "none"
    return str(value)


def _differs(cells: list[Cell]) -> bool:
    return len({(c.text, c.badge) for c in cells}) > 1


def health_rows(models: list[Any], check_table: list[Any]) -> list[Row]:
    healths = [m.training_health if isinstance(m.training_health, dict) else None for m in models]
    if not any(healths):
        return []

    def fact(label: str, read: Any) -> Row:
        cells = [Cell("Not computed", missing=True) if h is None else Cell(read(h)) for h in healths]
        return Row(label, cells, _differs(cells))

    def loss(key: str) -> Any:
        return lambda h: format_loss(h.get(key)) if isinstance(h.get(key), int | float) else NOT_SET

    def best(h: dict[str, Any]) -> str:
        value, step = h.get("best_validation_loss"), h.get("best_step")
        if not isinstance(value, int | float):
            return NOT_SET
        return f"{format_loss(value)} at step {step:,}" if isinstance(step, int) else format_loss(value)

    rows = [
        fact("Summary", lambda h: str(h.get("summary") or NOT_SET)),
        fact("Best validation loss", best),
        fact("Smoothed final training loss", loss("smoothed_final_training_loss")),
        fact("Smoothed final validation loss", loss("smoothed_final_validation_loss")),
    ]
    for check in check_table:  # already in the checks' own order (services.comparison.check_rows)
        cells = []
        for health, status, message in zip(healths, check["statuses"], check["messages"], strict=True):
            if health is None:
                cells.append(Cell("Not computed", missing=True))
            elif status is None:
                cells.append(Cell("Not judged", missing=True))
            else:
                text, tone = STATUS_TITLES.get(status, str(status)), STATUS_TONES.get(status, "neutral")
                cells.append(Cell(text, badge=tone, note=message or ""))
        rows.append(Row(CHECK_TITLES.get(check["code"], humanize(check["code"])), cells, check["differs"]))
    return rows


def adapter_rows(models: list[Any]) -> list[Row]:
    inspections = [m.inspection if isinstance(m.inspection, dict) else None for m in models]
    adapters = [i.get("adapter") if i and isinstance(i.get("adapter"), dict) else None for i in inspections]
    if not any(adapters):
        return []
    verdicts = []
    for inspection in inspections:
        if inspection is None:
            verdicts.append(Cell("Not inspected", missing=True))
            continue
        text, tone = VERDICT_BADGES.get(str(inspection.get("verdict")), (str(inspection.get("verdict")), "neutral"))
        findings = [f.get("code") for f in inspection.get("findings") or [] if isinstance(f, dict)]
        verdicts.append(Cell(text, badge=tone, note=", ".join(str(c) for c in findings if c)))
    rows = [Row("Verdict", verdicts, _differs(verdicts))]
    for key, label in ADAPTER_FACTS:
        cells = []
        for adapter in adapters:
            if adapter is None:
                cells.append(Cell("Not inspected", missing=True))
                continue
            value = adapter.get(key)
            text = binary_size(value) if key == "size" and isinstance(value, int) else show(value)
            cells.append(Cell(text))
        rows.append(Row(label, cells, _differs(cells)))
    return rows


def config_table(rows: list[Any]) -> list[Row]:
    return [
        Row(
            humanize(row["name"]),
            [Cell(show(v), missing=v is None) for v in row["values"]],
            row["differs"],
            section=SECTION_LABELS.get(row["section"], humanize(row["section"])),
        )
        for row in rows
    ]


def charts(comparison: Any, columns: list[dict[str, Any]]) -> dict[str, Any]:
    x_range = comparison.step_range
    training, validation = [], []
    for column, history in zip(columns, comparison.histories, strict=True):
        model_id, index, letter = str(column["model"].pk), column["index"], column["letter"]
        training.append(ModelSeries(model_id, index, letter, history.training, faint=True))
        training.append(ModelSeries(model_id, index, letter, history.smoothed_training))
        validation.append(ModelSeries(model_id, index, letter, history.validation, dots=True))
    return {
        "list": [
            multi_chart("cmp-train", "Training loss by step (smoothed)", training, x_range),
            multi_chart("cmp-val", "Validation loss by step", validation, x_range),
        ],
        "thinned": any(h.thinned for h in comparison.histories),
    }


@login_required
@require_GET
def model_compare(request: HttpRequest) -> HttpResponse:
    try:
        ids = parse_ids(request.GET.getlist("ids"))
    except InvalidSelection as exc:
        context = {"error": str(exc), "min_models": MIN_MODELS, "max_models": MAX_MODELS}
        return render(request, "artifacts/model_compare.html", context, status=400)
    models = load_models(request.user, ids)
    if models is None:
        raise Http404("Model not found or access denied")
    comparison = compare(models)
    columns = [{"model": m, "index": i, "letter": LETTERS[i]} for i, m in enumerate(models)]
    configuration = config_table(comparison.configuration)
    show_all = request.GET.get("show") == "all"
    ids_param = ",".join(str(m.pk) for m in models)
    context = {
        "columns": columns,
        "charts": charts(comparison, columns),
        "configuration": configuration,
        "differing": sum(1 for row in configuration if row.differs),
        "show_all": show_all,
        "hide_same": not show_all,
        "differences_url": "?" + urlencode({"ids": ids_param}),
        "all_url": "?" + urlencode({"ids": ids_param, "show": "all"}),
        "health": health_rows(models, list(comparison.checks)),
        "adapter": adapter_rows(models),
    }
    return render(request, "artifacts/model_compare.html", context)
