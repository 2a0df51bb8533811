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


def envelope(data: Any, status: int = 200) -> Response:
    return Response({"success": True, "data": data}, status=status)


def envelope_of(serializer: Any, name: str) -> Any:
    """The OpenAPI shape of ``envelope(serializer.data)``, as component ``name``."""
    return inline_serializer(name, {"success": serializers.BooleanField(), "data": serializer})
