"""A URL conf whose model answers carry fields the test chooses, in front of the real views.

It stands for a newer server (``verdict``, ``health_summary``, ``folder`` on every model) or a
hostile one (an id like ``../../..``). ``settings.CLIENT_MODEL_FIELDS`` maps a model's id to the
fields merged into that model wherever the list or the detail answer shows it.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path, resolve

from pipeline.urls import urlpatterns as site_urlpatterns


def _rewrite(model: Any) -> None:
    if isinstance(model, dict):
        model.update(getattr(settings, "CLIENT_MODEL_FIELDS", {}).get(str(model.get("id")), {}))


def rewritten(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    match = resolve(request.path_info, urlconf="pipeline.urls")
    response = match.func(request, *match.args, **match.kwargs)
    if hasattr(response, "render"):
        response.render()
    if response.status_code != 200 or request.method != "GET":
        return response
    body = json.loads(response.content)
    data = body.get("data")
    if isinstance(data, dict):
        for model in data["models"] if isinstance(data.get("models"), list) else [data]:
            _rewrite(model)
    return JsonResponse(body)


urlpatterns = [
    re_path(r"^api/models/?$", rewritten),
    re_path(r"^api/models/(?P<pk>[0-9a-f-]{36})/?$", rewritten),
    *site_urlpatterns,
]
