"""Model pages (the JSON API lives under ``artifacts/api``)."""

from django.urls import path

from artifacts import views

app_name = "models"

urlpatterns = [
    path("models", views.model_list, name="list"),
    path("models/<uuid:pk>", views.model_detail, name="detail"),
    path("models/<uuid:pk>/download", views.model_download, name="download"),
]
