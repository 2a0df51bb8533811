"""Model and training job pages, and the signed file downloads of local storage (the JSON API
lives under ``artifacts/api``).

Three URL namespaces: ``models:`` for the model pages, ``jobs:`` for the job pages and ``repos:``
for the repository pages; the file download is ``artifact-file-download``.
"""

from django.urls import include, path

from artifacts.pages import aliases, compare, delivery, downloads, edit, jobs, model_detail, model_list, repository

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
    path("models/<uuid:pk>/repository", aliases.model_repository, name="repository"),
    path("models/<uuid:pk>/move", aliases.model_move, name="move"),
]

repo = "repos/<str:namespace>/<str:name>"
repo_patterns = [
    path("repos", repository.repository_list, name="list"),
    path("repos/new", repository.repository_create, name="create"),
    path(repo, repository.repository_detail, name="detail"),
    path(f"{repo}/rename", repository.repository_rename, name="rename"),
    path(f"{repo}/aliases/move", aliases.alias_move, name="alias-move"),
    path(f"{repo}/aliases/<str:alias>/remove", aliases.alias_remove, name="alias-remove"),
    path(f"{repo}/main/pin", aliases.main_pin, name="main-pin"),
    path(f"{repo}/main/unpin", aliases.main_unpin, name="main-unpin"),
]

job_patterns = [
    path("training/jobs", jobs.job_list, name="job-list"),
    path("training/jobs/<uuid:pk>", jobs.job_detail, name="job-detail"),
    path("training/jobs/<uuid:pk>/retry", jobs.job_retry_ingest, name="job-retry"),
]

urlpatterns = [
    path("", include((model_patterns, "models"))),
    path("", include((job_patterns, "jobs"))),
    path("", include((repo_patterns, "repos"))),
    path("downloads/<str:token>", downloads.download_file, name="artifact-file-download"),
]
