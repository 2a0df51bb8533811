"""The notification inbox: list, mark read, follow a notification's link.

The bell in the navigation bar (unread count and newest notifications) is filled in by
``pipeline.context_processors.notifications``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from pipeline.models import Notification
from pipeline.templatetags.ui import safe_action_url

NOTIFICATIONS_PER_PAGE = 25


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    inbox = Notification.objects.for_user(request.user).inbox()
    page = Paginator(inbox, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "pipeline/notifications.html", {"page": page, "notifications": page.object_list})


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect("pages:notifications")


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: Any) -> HttpResponse:
    note = get_object_or_404(Notification.objects.for_user(request.user), pk=pk)
    Notification.objects.filter(pk=note.pk).mark_read()
    return _back(request)


@login_required
@require_GET
def notification_open(request: HttpRequest, pk: Any) -> HttpResponse:
    """Follow a notification's link: mark it read, then go where it points.

    Only a link that stays on this site is followed (``safe_action_url``); any other lands on the
    inbox. Marking read on a GET is deliberate: it is what following the link means, it only ever
    touches the user's own notification, and it can be repeated harmlessly.
    """
    note = get_object_or_404(Notification.objects.for_user(request.user), pk=pk)
    Notification.objects.filter(pk=note.pk).mark_read()
    return redirect(safe_action_url(note.action_url) or "pages:notifications")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = Notification.objects.for_user(request.user).mark_read()
    if count:
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    return _back(request)
