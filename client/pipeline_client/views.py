"""Human-readable output of models: a table for the list, a summary and file table for one."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def stars(score: Any) -> str:
    try:
        value = max(0, min(5, int(score)))
    except (TypeError, ValueError):
        return "-"
    return "★" * value + "☆" * (5 - value)


def human_size(size: Any) -> str:
    try:
        value = float(size)
    except (TypeError, ValueError):
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _date(value: Any) -> str:
    return str(value or "")[:16].replace("T", " ")


def print_models(data: dict[str, Any]) -> None:
    console = Console()
    models = data.get("models") or []
    pagination = data.get("pagination") or {}
    if not models:
        console.print("No models." if pagination.get("total", 0) == 0 else "No models on this page.")
    else:
        # Full IDs (the other commands take them); long names wrap rather than being cut.
        table = Table(box=None, pad_edge=False)
        table.add_column("ID", no_wrap=True)
        table.add_column("Name", overflow="fold", ratio=1)
        table.add_column("Quality", no_wrap=True)
        table.add_column("Created", no_wrap=True)
        for model in models:
            table.add_row(
                str(model.get("id", "")),
                str(model.get("name", "")),
                stars(model.get("quality_score")),
                str(model.get("created_at") or "")[:10],
            )
        console.print(table)
    if pagination:
        console.print(
            f"Page {pagination.get('page')} of {max(pagination.get('totalPages') or 0, 1)}"
            f" ({pagination.get('total')} models)"
        )


def print_model(model: dict[str, Any]) -> None:
    console = Console()
    metrics = model.get("quality_metrics") or {}
    dataset = model.get("dataset") or {}
    job = model.get("job") or {}
    rows = [
        ("Name", model.get("name")),
        ("ID", model.get("id")),
        ("Status", model.get("status")),
        ("Quality", f"{stars(model.get('quality_score'))} {metrics.get('convergence_quality', '')}".strip()),
        ("Final loss", metrics.get("final_training_loss")),
        ("Dataset", dataset.get("name")),
        ("Job", job.get("id")),
        ("Created", _date(model.get("created_at"))),
    ]
    health = model.get("training_health")
    if isinstance(health, dict) and health.get("summary"):
        rows.append(("Training health", health["summary"]))
    inspection = model.get("inspection")
    if isinstance(inspection, dict) and inspection.get("verdict"):
        rows.append(("Inspection", inspection["verdict"]))
    for label, value in rows:
        if value not in (None, ""):
            console.print(f"[bold]{label}:[/bold] {value}", highlight=False)
    files = model.get("files") or []
    if files:
        console.print("[bold]Files[/bold] (size, sha256, name):", highlight=False)
        for item in files:
            line = f"{human_size(item.get('size')):>9}  {item.get('sha256', '')}  {item.get('filename', '')}"
            console.print(line, highlight=False, markup=False, soft_wrap=True)
