"""The product's own "Page not found" page while ``DEBUG`` is on, when ``PRODUCT_404_IN_DEBUG`` asks.

With ``DEBUG`` on, Django answers every 404 with its technical page (the URL patterns, the
settings hint), which is right for a developer and wrong for a demo: people trying the product
should see the page production shows. ``make demo`` sets ``PRODUCT_404_IN_DEBUG=true``; plain
``runserver`` keeps Django's page. Only browsers asking for HTML get it; API clients keep the
JSON 404 of ``pipeline.lib.api``, and other errors still show Django's debug pages.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, get_resolver


def _wants_html(request: HttpRequest) -> bool:
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get("Accept", "")


class ProductNotFoundMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def _active(self, request: HttpRequest) -> bool:
        return settings.DEBUG and getattr(settings, "PRODUCT_404_IN_DEBUG", False) and _wants_html(request)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._active(request):
            try:
                get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
            except Resolver404:
                return render(request, "404.html", status=404)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404) and self._active(request):
            return render(request, "404.html", status=404)
        return None
