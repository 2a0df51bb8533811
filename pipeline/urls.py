from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from artifacts.downloads import download_file
from artifacts.webhooks import training_complete
from pipeline.health import status

urlpatterns = [
    path("", RedirectView.as_view(url="/models", permanent=False)),
    path("status", status, name="status"),
    path("api/webhooks/training-complete", training_complete, name="webhook-training-complete"),
    path("api/", include("artifacts.api.urls")),
    path("api/", include("pipeline.api.urls")),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("downloads/<str:token>", download_file, name="artifact-file-download"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("account/", include("accounts.token_urls")),
    path("", include("artifacts.urls")),
    path("", include("pipeline.page_urls")),
]
