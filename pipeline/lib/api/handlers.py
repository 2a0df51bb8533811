"""Root URLconf error handlers: JSON envelopes on ``/api/`` paths, Django's pages elsewhere.

Django calls these for exceptions no view handled (e.g. ``RequestDataTooBig`` raised while a
middleware reads ``request.POST``), with ``DEBUG`` off.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from pipeline.lib.api.middleware import error_response, is_api, response_for_request_error


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.bad_request(request, exception)
    return response_for_request_error(exception) or error_response(400, "Bad request.")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return error_response(403, "Forbidden.")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return error_response(404, "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api(request):
        return defaults.server_error(request)
    return error_response(500, "Internal server error.")
