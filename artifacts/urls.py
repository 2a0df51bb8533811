"""Model and training job pages, and the signed file downloads of local storage (the JSON API
lives under ``artifacts/api``).

Two URL namespaces: ``models:`` for the model pages and ``jobs:`` for the job pages; the file
download is ``artifact-file-download``.
"""

from django.urls import include, path

from artifacts import compare_views, delivery_views, edit_views, file_views, job_views, views

model_patterns = [
    path("models", views.model_list, name="list"),
    path("models/compare", compare_views.model_compare, name="compare"),
    path("models/<uuid:pk>", views.model_detail, name="detail"),
    path("models/<uuid:pk>/download", views.model_download, name="download"),
    path("models/deleted", delivery_views.deleted_models, name="deleted"),
    path("models/<uuid:pk>/bundle", delivery_views.model_bundle, name="bundle"),
    path("models/<uuid:pk>/delete", delivery_views.model_delete, name="delete"),
    path("models/<uuid:pk>/restore", delivery_views.model_restore, name="restore"),
    path("models/<uuid:pk>/card", views.model_card_page, name="card"),
    path("models/<uuid:pk>/edit", edit_views.model_edit, name="edit"),
]

job_patterns = [
    path("training/jobs", job_views.job_list, name="job-list"),
    path("training/jobs/<uuid:pk>", job_views.job_detail, name="job-detail"),
    path("training/jobs/<uuid:pk>/retry", job_views.job_retry_ingest, name="job-retry"),
]

urlpatterns = [
    path("", include((model_patterns, "models"))),
    path("", include((job_patterns, "jobs"))),
    path("downloads/<str:token>", file_views.download_file, name="artifact-file-download"),
]
