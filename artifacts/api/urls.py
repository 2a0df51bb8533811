"""``/api/models…`` routes. The seed's paths have no trailing slash; one is accepted too (``(?:/)?``
keeps it out of the OpenAPI paths)."""

from django.urls import re_path

from artifacts.api import views

urlpatterns = [
    re_path(r"^models(?:/)?$", views.ModelListView.as_view(), name="api-model-list"),
    re_path(r"^models/(?P<pk>[^/]+)(?:/)?$", views.ModelDetailView.as_view(), name="api-model-detail"),
    re_path(r"^models/(?P<pk>[^/]+)/download(?:/)?$", views.ModelDownloadView.as_view(), name="api-model-download"),
]
