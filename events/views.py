"""The Webhooks pages: ``/webhooks`` (list + new endpoint) and ``/webhooks/<id>`` (settings,
secret, ping, delivery log with replay). Only the owner's endpoints; anyone else's answers 404."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_http_methods, require_POST

from events import tasks
from events.forms import EndpointEditForm, EndpointForm, ReplaySinceForm
from events.models import Delivery, WebhookEndpoint
from events.services import endpoints, publish

LOG_PAGE_SIZE = 20


def _endpoint(request: HttpRequest, pk: uuid.UUID) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.visible_to(request.user).filter(pk=pk).first()
    if endpoint is None:
        raise Http404("Webhook endpoint not found")
    return endpoint


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_list(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = endpoints.create_endpoint(request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                form = EndpointForm()
        if created is None:
            status = 400
    context = {
        "form": form,
        "created": created,
        "endpoints": WebhookEndpoint.objects.visible_to(request.user),
    }
    return render(request, "events/webhooks.html", context, status=status)


def _detail(
    request: HttpRequest,
    endpoint: WebhookEndpoint,
    *,
    form: EndpointEditForm | None = None,
    secret: str = "",
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    deliveries = Delivery.objects.visible_to(request.user).filter(endpoint=endpoint).select_related("event")
    state = request.GET.get("state", "")
    if state in Delivery.State.values:
        deliveries = deliveries.filter(state=state)
    page = Paginator(deliveries.prefetch_related("attempt_log"), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
    }
    context = {
        "endpoint": endpoint,
        "form": form or EndpointEditForm(initial=initial),
        "replay_form": ReplaySinceForm(initial={"since": now - timedelta(days=1)}),
        "secret": secret,
        "page": page,
        "state": state,
        "states": Delivery.State.choices,
        "previous_secret_valid": len(endpoint.signing_secrets()) > 1,
        "disabled_after": timesince(now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS), now),
        "retention_days": settings.WEBHOOK_EVENT_RETENTION_DAYS,
    }
    return render(request, "events/endpoint_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    if request.method == "GET":
        return _detail(request, endpoint)
    form = EndpointEditForm(request.POST)
    if not form.is_valid():
        return _detail(request, endpoint, form=form, status=400)
    endpoints.update_endpoint(endpoint, **form.changes())
    messages.success(request, "Webhook endpoint saved.")
    return redirect("webhooks:detail", pk=endpoint.pk)


@login_required
@require_POST
def rotate_secret(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    endpoint = endpoints.rotate_secret(_endpoint(request, pk))
    return _detail(request, endpoint, secret=endpoint.secret)


@login_required
@require_POST
def ping(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    if not endpoint.enabled:
        messages.error(request, "The endpoint is disabled: enable it first.")
    else:
        publish.ping(endpoint)
        messages.success(request, "Ping queued. Its delivery shows in the log below.")
    return redirect("webhooks:detail", pk=endpoint.pk)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    if request.method == "POST":
        endpoint.delete()
        messages.success(request, f"Webhook endpoint {endpoint.url} deleted.")
        return redirect("webhooks:list")
    return render(request, "events/endpoint_delete.html", {"endpoint": endpoint})


@login_required
@require_POST
def replay_delivery(request: HttpRequest, pk: uuid.UUID, delivery_pk: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    rows = Delivery.objects.visible_to(request.user).filter(endpoint=endpoint, pk=delivery_pk)
    if not rows.exists():
        raise Http404("Delivery not found")
    _replay(request, endpoint, rows)
    return redirect("webhooks:detail", pk=endpoint.pk)


@login_required
@require_POST
def replay_failed(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    form = ReplaySinceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the time to replay failed deliveries from.")
    else:
        _replay(request, endpoint, endpoints.failed_since(endpoint, form.cleaned_data["since"]))
    return redirect("webhooks:detail", pk=endpoint.pk)


def _replay(request: HttpRequest, endpoint: WebhookEndpoint, deliveries: object) -> None:
    try:
        ids = endpoints.replay(endpoint, deliveries)
    except endpoints.EndpointDisabled:
        messages.error(request, "The endpoint is disabled: enable it first.")
        return
    tasks.queue_after_commit(ids)
    messages.success(request, f"{len(ids)} deliver{'y' if len(ids) == 1 else 'ies'} queued again.")
