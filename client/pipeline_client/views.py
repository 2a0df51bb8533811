"""Human-readable output of models: a table for the list, a summary and file table for one.

Verdict first (DESIGN §14): a model the server judges ``unusable`` says so at the start of its line
in the list and above everything else in ``models show``, so stars never make it look good.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline_client.units import human_size

VERDICT_LABELS = {"unusable": "[bold red]UNUSABLE[/]", "warnings": "[yellow]warnings[/]", "ok": "[green]ok[/]"}


def stars(score: Any) -> str:
    try:
        value = max(0, min(5, int(score)))
    except (TypeError, ValueError):
        return "-"
    return "★" * value + "☆" * (5 - value)


def _date(value: Any) -> str:
    return str(value or "")[:16].replace("T", " ")


def verdict_of(model: dict[str, Any]) -> str:
    """The model's verdict: the list API's ``verdict``, else the detail's ``inspection.verdict``."""
    verdict = model.get("verdict")
    if not isinstance(verdict, str) or not verdict:
        inspection = model.get("inspection")
        verdict = inspection.get("verdict") if isinstance(inspection, dict) else None
    return verdict.strip().lower() if isinstance(verdict, str) else ""


def verdict_label(verdict: str) -> str:
    return VERDICT_LABELS.get(verdict, escape(verdict))


def health_summary(model: dict[str, Any]) -> str:
    summary = model.get("health_summary")
    if not isinstance(summary, str) or not summary.strip():
        health = model.get("training_health")
        summary = health.get("summary") if isinstance(health, dict) else None
    return summary.strip() if isinstance(summary, str) else ""


def print_models(data: dict[str, Any], *, empty: str = "No models.") -> None:
    """A page of the list; ``empty`` is what to say when the whole list is empty."""
    console = Console()
    models = data.get("models") or []
    pagination = data.get("pagination") or {}
    if not models:
        if pagination.get("total", 0):
            console.print("No models on this page.")
        else:
            console.print(empty)
    else:
        # Full IDs (the other commands take them); long names wrap rather than being cut. The
        # verdict and size columns appear when the server sends them (older servers do not).
        with_verdict = any(verdict_of(model) for model in models)
        with_size = any(model.get("total_size") is not None for model in models)
        table = Table(box=None, pad_edge=False)
        if with_verdict:
            table.add_column("Verdict", no_wrap=True)
        table.add_column("ID", no_wrap=True)
        table.add_column("Name", overflow="fold", ratio=1)
        table.add_column("Quality", no_wrap=True)
        if with_size:
            table.add_column("Size", no_wrap=True, justify="right")
        table.add_column("Created", no_wrap=True)
        for model in models:
            name = escape(str(model.get("name", "")))
            summary = health_summary(model)
            if summary:
                name += f"\n[dim]{escape(summary)}[/]"
            row = [verdict_label(verdict_of(model))] if with_verdict else []
            row += [str(model.get("id", "")), name, stars(model.get("quality_score"))]
            if with_size:
                row.append(human_size(model.get("total_size")))
            row.append(str(model.get("created_at") or "")[:10])
            table.add_row(*row)
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
    verdict, summary = verdict_of(model), health_summary(model)
    if verdict == "unusable":
        console.print(f"[bold red]UNUSABLE[/]{': ' + escape(summary) if summary else ''}", highlight=False)
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
    if summary:
        rows.append(("Training health", summary))
    if verdict:
        rows.append(("Verdict", verdict))
    files = model.get("files") or []
    sizes = [item.get("size") for item in files if isinstance(item, dict)]
    if sizes and all(isinstance(size, int) for size in sizes):
        rows.append(("Size", f"{human_size(sum(sizes))} in {len(sizes)} file(s)"))
    for label, value in rows:
        if value not in (None, ""):
            console.print(f"[bold]{label}:[/bold] {escape(str(value))}", highlight=False)
    if files:
        console.print("[bold]Files[/bold] (size, sha256, name):", highlight=False)
        for item in files:
            line = f"{human_size(item.get('size')):>9}  {item.get('sha256', '')}  {item.get('filename', '')}"
            console.print(line, highlight=False, markup=False, soft_wrap=True)
