"""A URL conf for a server without the delivery endpoints: ``/sha256sums`` and ``/card`` are 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import re_path

from pipeline.urls import urlpatterns as site_urlpatterns


def not_found(request: HttpRequest, pk: str) -> HttpResponse:
    raise Http404


urlpatterns = [
    re_path(r"^api/models/(?P<pk>[^/]+)/(?:sha256sums|card)/?$", not_found),
    *site_urlpatterns,
]
