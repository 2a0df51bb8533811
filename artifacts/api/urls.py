"""``/api/models…`` routes (``api-model-list``, ``api-model-detail``, ``api-model-download``), the
repositories' ``/api/repos…`` (``api-repo-list``, ``api-repo-detail``, ``api-repo-alias``) and the
GPU cluster's ``/api/webhooks/training-complete`` (``webhook-training-complete``).

The seed's paths have no trailing slash; one is accepted too (``(?:/)?`` keeps it out of the
OpenAPI paths).
"""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from artifacts.api.repos import AliasView, RepositoryDetailView, RepositoryListView
from artifacts.api.views import ModelArtifactViewSet
from artifacts.api.webhooks import training_complete

router = SimpleRouter()
router.trailing_slash = "(?:/)?"
router.register("models", ModelArtifactViewSet, basename="api-model")

urlpatterns = [
    path("webhooks/training-complete", training_complete, name="webhook-training-complete"),
    *router.urls,
    re_path(r"^repos(?:/)?$", RepositoryListView.as_view(), name="api-repo-list"),
    re_path(
        r"^repos/(?P<namespace>[^/]+)/(?P<name>[^/]+?)(?:/)?$", RepositoryDetailView.as_view(), name="api-repo-detail"
    ),
    re_path(
        r"^repos/(?P<namespace>[^/]+)/(?P<name>[^/]+)/aliases/(?P<alias>[^/]+?)(?:/)?$",
        AliasView.as_view(),
        name="api-repo-alias",
    ),
]
