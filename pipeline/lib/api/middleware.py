"""Every error under ``/api/`` answers JSON in the seed's envelope, whoever raised it.

DRF views already do (``exceptions.api_exception_handler``). This middleware covers the rest:
Django's own refusals (an unknown ``/api/...`` URL, a 405 from ``require_POST``, a CSRF 403), a body
over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``RequestDataTooBig`` → 413) or with more than
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields (``TooManyFieldsSent`` → 400), and a crash (500). Pages
outside ``/api/`` keep their HTML error pages. ``handler400``/``handler500`` in the root URLconf
(:mod:`pipeline.lib.api.handlers`) answer the same for exceptions raised before a view runs.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse

from pipeline.lib.api.parsers import max_body_bytes, too_large_message

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_response(status: int, message: str | None = None, details: Any = None) -> JsonResponse:
    body: dict[str, Any] = {"error": message or HTTPStatus(status).phrase}
    if details is not None:
        body["details"] = details
    return JsonResponse(body, status=status)


def response_for_request_error(exc: Exception) -> JsonResponse | None:
    """Django's body-limit exceptions as envelopes (``None`` for any other exception)."""
    if isinstance(exc, RequestDataTooBig):
        limit = max_body_bytes()
        return error_response(413, too_large_message(limit) if limit else "Request body is too large.")
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return error_response(400, "Request has too many form fields or files.")
    return None


MESSAGES = {
    404: "Not found.",
    405: "Method not allowed.",
    403: "Forbidden.",
    500: "Internal server error.",
}


class ApiErrorMiddleware:
    """Place near the top of ``MIDDLEWARE`` so it sees the responses of everything below it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api(request) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = error_response(response.status_code, MESSAGES.get(response.status_code))
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        if response.status_code == 405 and "Allow" in response:
            replacement.content = JsonResponse(
                {"error": "Method not allowed.", "details": {"allowed": response["Allow"].split(", ")}}
            ).content
        return replacement

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None
        return response_for_request_error(exception)
