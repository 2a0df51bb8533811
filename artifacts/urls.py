"""Model and training job pages, and the signed file downloads of local storage (the JSON API
lives under ``artifacts/api``).

Two URL namespaces: ``models:`` for the model pages and ``jobs:`` for the job pages; the file
download is ``artifact-file-download``.
"""

from django.urls import include, path

from artifacts.pages import compare, delivery, downloads, edit, jobs, model_detail, model_list

model_patterns = [
    path("models", model_list.model_list, name="list"),
    path("models/compare", compare.model_compare, name="compare"),
    path("models/<uuid:pk>", model_detail.model_detail, name="detail"),
    path("models/<uuid:pk>/download", model_detail.model_download, name="download"),
    path("models/deleted", delivery.deleted_models, name="deleted"),
    path("models/<uuid:pk>/bundle", delivery.model_bundle, name="bundle"),
    path("models/<uuid:pk>/delete", delivery.model_delete, name="delete"),
    path("models/<uuid:pk>/restore", delivery.model_restore, name="restore"),
    path("models/<uuid:pk>/card", model_detail.model_card_page, name="card"),
    path("models/<uuid:pk>/edit", edit.model_edit, name="edit"),
]

job_patterns = [
    path("training/jobs", jobs.job_list, name="job-list"),
    path("training/jobs/<uuid:pk>", jobs.job_detail, name="job-detail"),
    path("training/jobs/<uuid:pk>/retry", jobs.job_retry_ingest, name="job-retry"),
]

urlpatterns = [
    path("", include((model_patterns, "models"))),
    path("", include((job_patterns, "jobs"))),
    path("downloads/<str:token>", downloads.download_file, name="artifact-file-download"),
]
