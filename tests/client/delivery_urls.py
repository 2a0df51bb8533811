"""A URL conf with the delivery endpoints (``/sha256sums``, ``/card``) the client uses.

The site's own routes come first, so where the site serves these endpoints the real ones answer;
the stand-ins below only fill the gap. ``delivery_missing_urls`` is a server without them.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import re_path

from artifacts.models import ModelArtifact
from pipeline.urls import urlpatterns as site_urlpatterns


def _model(pk: str) -> ModelArtifact:
    model = ModelArtifact.objects.filter(pk=pk, deleted_at__isnull=True).prefetch_related("files").first()
    if model is None:
        raise Http404
    return model


def sha256sums(request: HttpRequest, pk: str) -> HttpResponse:
    lines = "".join(f"{f.sha256}  {f.filename}\n" for f in _model(pk).files.all())
    return HttpResponse(lines, content_type="text/plain; charset=utf-8")


def card(request: HttpRequest, pk: str) -> HttpResponse:
    model = _model(pk)
    return HttpResponse(f"---\nlibrary_name: peft\n---\n# {model.name}\n", content_type="text/markdown")


# A server with the endpoints: the site's own routes first, the stand-ins after them.
urlpatterns = [
    *site_urlpatterns,
    re_path(r"^api/models/(?P<pk>[0-9a-f-]{36})/sha256sums$", sha256sums),
    re_path(r"^api/models/(?P<pk>[0-9a-f-]{36})/card$", card),
]
