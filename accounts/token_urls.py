"""``/account/tokens``: API tokens for the signed-in user."""

from django.urls import path

from accounts import views

app_name = "tokens"

urlpatterns = [
    path("tokens", views.token_list, name="list"),
    path("tokens/<int:pk>/revoke", views.token_revoke, name="revoke"),
]
