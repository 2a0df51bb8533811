from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from pipeline.health import status

urlpatterns = [
    path("", RedirectView.as_view(url="/models", permanent=False)),
    path("status", status, name="status"),
    path("api/", include("artifacts.api.urls")),
    path("api/", include("pipeline.api.urls")),
    path("api/", include("events.api.urls")),
    path("hub/", include("hub.urls")),  # the Hub protocol (DESIGN §15): HF_ENDPOINT={site}/hub
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("account/", include("accounts.token_urls")),
    path("", include("artifacts.urls")),
    path("", include("pipeline.page_urls")),
    path("", include("events.urls")),
]

# JSON envelopes for errors on /api/ paths, Django's pages elsewhere.
handler400 = "pipeline.lib.api.handlers.bad_request"
handler403 = "pipeline.lib.api.handlers.permission_denied"
handler404 = "pipeline.lib.api.handlers.page_not_found"
handler500 = "pipeline.lib.api.handlers.server_error"
