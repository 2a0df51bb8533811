"""The one DRF exception handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``): every API error, raised
anywhere (authentication, permissions, CSRF, throttling, validation, 404, a view's own
:class:`ApiError`), reaches the client as the seed's ``{"error": ..., "details": ...}``.

Views raise; they never build an error response themselves.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

# The wait a 429 states when the throttle could not say (DRF's rate throttles give none when a
# rate was lowered after requests were counted): one minute, the window of the project's rates.
UNKNOWN_WAIT_SECONDS = 60


class ApiError(exceptions.APIException):
    """An error whose message and details the client gets exactly as given.

    ``raise ApiError("Unknown file name(s): x", {"unknown": ["x"]})`` answers
    ``400 {"error": "Unknown file name(s): x", "details": {"unknown": ["x"]}}``.
    """

    def __init__(self, message: str, details: Any = None, status_code: int = status.HTTP_400_BAD_REQUEST):
        super().__init__(message)
        self.status_code = status_code
        self.details = details


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


def retry_after_seconds(exc: exceptions.Throttled) -> int:
    """Whole seconds to wait, at least 1: every 429 says when to come back, in its ``Retry-After``
    header and in ``details.retry_after_seconds`` (DRF sends no header for an unknown or zero wait)."""
    wait = stated_wait(exc)
    return UNKNOWN_WAIT_SECONDS if wait is None else max(1, math.ceil(wait))


def stated_wait(exc: exceptions.Throttled) -> float | None:
    """The wait the throttle gave (``Throttled.__init__`` sets it; the type stubs do not know it)."""
    wait: float | None = getattr(exc, "wait", None)
    return wait


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: let Django answer 500 (and log it)
    if isinstance(exc, exceptions.ValidationError):
        body: dict[str, Any] = {"error": _summarise(response.data), "details": response.data}
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        body = {"error": str(detail)}
        if isinstance(exc, ApiError) and exc.details is not None:
            body["details"] = exc.details
        if isinstance(exc, exceptions.Throttled):
            wait = retry_after_seconds(exc)
            if stated_wait(exc) is None:
                body["error"] += f" Try again in {wait} seconds."
            body["details"] = {"retry_after_seconds": wait}
            response["Retry-After"] = str(wait)
    response.data = body
    request: Any = context.get("request")
    renderer = getattr(request, "accepted_renderer", None)
    if request is not None and renderer is not None and renderer.media_type not in ("application/json", "text/html"):
        # A route that serves text (SHA256SUMS, the model card) still answers errors in the JSON
        # envelope, labelled as JSON, whatever the client asked for.
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
    return response
