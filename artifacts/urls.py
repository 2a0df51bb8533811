"""Model pages (namespace ``models``) and the signed file downloads of local storage (the JSON API
lives under ``artifacts/api``)."""

from django.urls import include, path

from artifacts import file_views, views

model_pages = [
    path("models", views.model_list, name="list"),
    path("models/<uuid:pk>", views.model_detail, name="detail"),
    path("models/<uuid:pk>/download", views.model_download, name="download"),
]

urlpatterns = [
    path("", include((model_pages, "models"))),
    path("downloads/<str:token>", file_views.download_file, name="artifact-file-download"),
]
