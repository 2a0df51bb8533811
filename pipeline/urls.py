from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from pipeline.health import status

urlpatterns = [
    path("", RedirectView.as_view(url="/models", permanent=False)),
    path("status", status, name="status"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
]
