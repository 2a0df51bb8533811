"""The API tokens page: create (shown once), list and revoke your own tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.forms import TokenCreateForm
from accounts.models import ApiToken


@never_cache  # the page may hold a new token's only copy: no cache may keep it
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST or None, user=request.user)
    created = raw = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            # Rendered here rather than after a redirect, so the raw token is never stored anywhere.
            created, raw = ApiToken.objects.issue(request.user, name=form.cleaned_data["name"])  # type: ignore[arg-type]
            form = TokenCreateForm(user=request.user)
            status = 201
        else:
            status = 400
    tokens = ApiToken.objects.active_for(request.user)  # type: ignore[arg-type]
    context = {
        "form": form,
        "tokens": tokens,
        "created": created,
        "raw_token": raw,
        "api_url": request.build_absolute_uri("/api/models"),
        "site_url": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "accounts/tokens.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.active_for(request.user), pk=pk)  # type: ignore[arg-type]
    if request.method == "POST":
        token.revoke()
        messages.success(request, f"Token “{token.name or token.prefix}” revoked. It no longer works.")
        return redirect("tokens:list")
    return render(request, "accounts/token_revoke.html", {"token": token})
