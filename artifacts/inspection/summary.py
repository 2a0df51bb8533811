"""What the rest of the product says about a stored inspection: one sentence, a panel.

The inspection JSON (DESIGN §10) is stored on the artifact; these pure functions read it back
for the notification, the pages and the serving commands, tolerating a missing or odd value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENGINE_LABELS = {"peft": "PEFT", "vllm": "vLLM", "lorax": "LoRAX", "llama_cpp": "llama.cpp"}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def findings(inspection: Any) -> list[Mapping[str, Any]]:
    """The findings, errors first, then warnings, then notes (stable within a severity)."""
    items = [f for f in _mapping(inspection).get("findings") or [] if isinstance(f, Mapping)]
    return sorted(items, key=lambda f: SEVERITY_ORDER.get(str(f.get("severity")), 3))


def inspection_verdict(inspection: Any) -> str | None:
    """The stored inspection's verdict (``ok``, ``warnings`` or ``unusable``), None when it has none."""
    value = _mapping(inspection).get("verdict")
    return value if value in ("ok", "warnings", "unusable") else None


# Errors that make PEFT's ``PeftModel.from_pretrained`` fail outright: no weights file, a config it
# cannot read, a safetensors file it refuses, a tensor whose shape differs from the module's (a
# "size mismatch" RuntimeError). The other errors load without complaint (PEFT only warns about
# missing keys) and are useless once loaded: zero or NaN weights, half of a LoRA pair, no LoRA
# tensors at all. Checked against real PEFT with ``python -m bench.peft_load``.
LOAD_FAILURES = ("no_adapter_weights", "config_invalid", "safetensors_invalid", "rank_mismatch")


def _errors(inspection: Any) -> list[Mapping[str, Any]]:
    """The error findings, those that stop the adapter loading first."""
    errors = [f for f in findings(inspection) if f.get("severity") == "error"]
    return sorted(errors, key=lambda f: f.get("code") not in LOAD_FAILURES)


def unusable_headline(inspection: Any) -> str | None:
    """What an unusable adapter does when someone tries it: fails to load, or loads and is useless."""
    if inspection_verdict(inspection) != "unusable":
        return None
    if any(f.get("code") in LOAD_FAILURES for f in _errors(inspection)):
        return "This adapter will not load as delivered."
    return "This adapter loads but is unusable as delivered."


def first_error(inspection: Any) -> Mapping[str, Any] | None:
    """The error to name first: one that stops loading, else the first of the others."""
    errors = [f for f in _errors(inspection) if f.get("message")]
    return errors[0] if errors else None


def inspection_sentence(inspection: Any) -> str | None:
    """For the ``artifact_ready`` notification: why the adapter is unusable, or None when it is not."""
    headline = unusable_headline(inspection)
    if headline is None:
        return None
    first = first_error(inspection)
    reason = str(first["message"]).strip() if first else "inspection found errors in its files."
    more = len(_errors(inspection)) - 1
    extra = f" ({more} more problem{'s' if more > 1 else ''} on the model page.)" if more > 0 else ""
    return f"Warning: {headline[0].lower()}{headline[1:]} {reason}{extra}"


def serving_rows(inspection: Any) -> list[dict[str, Any]]:
    """One row per engine, in a fixed order, for the page: label, ready, reasons, command."""
    serving = _mapping(_mapping(inspection).get("serving"))
    rows = []
    for key, label in ENGINE_LABELS.items():
        state = _mapping(serving.get(key))
        if not state:
            continue
        reasons = [str(r) for r in state.get("reasons") or [] if r]
        command = state.get("command") if isinstance(state.get("command"), str) else None
        rows.append(
            {"key": key, "label": label, "ready": state.get("ready") is True, "reasons": reasons, "command": command}
        )
    return rows
