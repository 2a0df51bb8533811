"""Template helpers for showing an artifact's stored inspection (DESIGN §10) on the model pages."""

from __future__ import annotations

from typing import Any

from django import template

from artifacts.inspection.summary import findings, first_error, inspection_verdict, serving_rows, unusable_headline

register = template.Library()

VERDICT_LABELS = {"ok": "Loads", "warnings": "Loads, with warnings", "unusable": "Unusable"}
VERDICT_TONES = {"ok": "success", "warnings": "warn", "unusable": "danger"}
SEVERITY_ICONS = {"error": ("x", "danger"), "warning": ("alert", "warn"), "info": ("check-circle", "info")}


@register.simple_tag
def inspection_view(inspection: Any) -> dict[str, Any] | None:
    """What the panel shows, or None when the adapter has not been inspected."""
    state = inspection_verdict(inspection)
    if state is None:
        return None
    items = [
        {
            "code": str(f.get("code") or ""),
            "severity": str(f.get("severity") or "info"),
            "message": str(f.get("message") or ""),
            "icon": SEVERITY_ICONS.get(str(f.get("severity")), SEVERITY_ICONS["info"])[0],
            "tone": SEVERITY_ICONS.get(str(f.get("severity")), SEVERITY_ICONS["info"])[1],
        }
        for f in findings(inspection)
    ]
    adapter = inspection.get("adapter") if isinstance(inspection.get("adapter"), dict) else {}
    first = {sev: next((f for f in items if f["severity"] == sev), None) for sev in ("error", "warning")}
    lead = str((first_error(inspection) or {}).get("code") or "")  # a loading failure is named first
    return {
        "verdict": state,
        "label": VERDICT_LABELS[state],
        "tone": VERDICT_TONES[state],
        "findings": items,
        "errors": sum(1 for f in items if f["severity"] == "error"),
        "first_error": next((f for f in items if f["severity"] == "error" and f["code"] == lead), first["error"]),
        "headline": unusable_headline(inspection),
        "first_warning": first["warning"],
        "adapter": adapter,
        "serving": serving_rows(inspection),
    }


@register.filter
def is_unusable(inspection: Any) -> bool:
    return inspection_verdict(inspection) == "unusable"
