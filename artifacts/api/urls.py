"""``/api/models…`` routes (``api-model-list``, ``api-model-detail``, ``api-model-download``) and the
GPU cluster's ``/api/webhooks/training-complete`` (``webhook-training-complete``).

The seed's paths have no trailing slash; one is accepted too (``(?:/)?`` keeps it out of the
OpenAPI paths).
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from artifacts.api.views import ModelArtifactViewSet
from artifacts.api.webhooks import training_complete

router = SimpleRouter()
router.trailing_slash = "(?:/)?"
router.register("models", ModelArtifactViewSet, basename="api-model")

urlpatterns = [
    path("webhooks/training-complete", training_complete, name="webhook-training-complete"),
    *router.urls,
]
