"""``/api/models…`` routes: ``api-model-list``, ``api-model-detail`` and ``api-model-download``.

The seed's paths have no trailing slash; one is accepted too (``(?:/)?`` keeps it out of the
OpenAPI paths).
"""

from rest_framework.routers import SimpleRouter

from artifacts.api.views import ModelArtifactViewSet

router = SimpleRouter()
router.trailing_slash = "(?:/)?"
router.register("models", ModelArtifactViewSet, basename="api-model")

urlpatterns = router.urls
