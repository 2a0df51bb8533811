"""The seed's success envelope ``{"success": true, "data": ...}`` and its OpenAPI descriptions.

Errors are shaped in one place, :func:`pipeline.lib.api.exceptions.api_exception_handler`; views
only build successes here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

# What every error answers (see ``exceptions.api_exception_handler``), for ``extend_schema(responses=...)``.
ERROR_RESPONSE = inline_serializer(
    "Error",
    {"error": serializers.CharField(), "details": serializers.JSONField(required=False)},
)


ERROR_DESCRIPTIONS = {
    400: "Bad parameters or body",
    401: "No or bad credentials",
    403: "Session authentication without a valid CSRF token",
    404: "Not found, or not yours",
    413: "Body over the upload limit",
    415: "Body is not JSON",
    429: "Too many requests; the `Retry-After` header and `details.retry_after_seconds` say when to try again",
}


def error_responses(*statuses: int) -> dict[int, Any]:
    """``{status: the error envelope}`` for ``extend_schema(responses=...)``."""
    from drf_spectacular.utils import OpenApiResponse

    return {code: OpenApiResponse(ERROR_RESPONSE, description=ERROR_DESCRIPTIONS.get(code, "")) for code in statuses}


def envelope(data: Any, status: int = 200) -> Response:
    return Response({"success": True, "data": data}, status=status)


def envelope_of(serializer: Any, name: str) -> Any:
    """The OpenAPI shape of ``envelope(serializer.data)``, as component ``name``."""
    return inline_serializer(name, {"success": serializers.BooleanField(), "data": serializer})
