"""The seed's API envelopes: ``{"success": true, "data": ...}`` and ``{"error": ..., "details": ...}``.

Every API view mixes in :class:`EnvelopeMixin`, so errors raised anywhere in DRF (authentication,
permissions, CSRF, throttling, validation, 404) reach the client in the seed's error shape.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

MODEL_NOT_FOUND = "Model not found or access denied"


def envelope(data: Any, status: int = 200) -> Response:
    return Response({"success": True, "data": data}, status=status)


def _first_message(errors: Any) -> str:
    """The first human-readable message in a (possibly nested) DRF error structure."""
    if isinstance(errors, dict):
        for value in errors.values():
            return _first_message(value)
        return ""
    if isinstance(errors, list):
        return _first_message(errors[0]) if errors else ""
    return str(errors)


def _summarise(errors: Any) -> str:
    """``"page: A valid integer is required.; limit: ..."`` — say what was wrong in one line."""
    if not isinstance(errors, dict):
        return _first_message(errors) or "Invalid request."
    parts = []
    for field, value in errors.items():
        message = _first_message(value)
        parts.append(message if field == "non_field_errors" else f"{field}: {message}")
    return "; ".join(parts) or "Invalid request."


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: let Django answer 500 (and log it)
    if isinstance(exc, exceptions.ValidationError):
        body: dict[str, Any] = {"error": _summarise(response.data), "details": response.data}
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        body = {"error": str(detail)}
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            body["details"] = {"retry_after_seconds": int(wait)}
    response.data = body
    return response


class EnvelopeMixin:
    """Answer errors in the seed's envelope (without changing other apps' DRF views)."""

    def get_exception_handler(self) -> Any:
        return api_exception_handler
