"""The admin's delete and restore actions take the owner's path: events, ``main`` and the retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from artifacts.models import Alias, ModelArtifact
from artifacts.services import registry
from events.models import Event
from events.services import endpoints
from tests.conftest import logged_in
from tests.factories import make_artifact

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/artifacts/modelartifact/"


def act(client, action: str, *artifacts: ModelArtifact):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [str(a.pk) for a in artifacts]}, follow=True)


def test_admin_soft_delete_moves_main_off_and_tells_the_owners_webhooks(settings, alice, charlie):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    endpoints.create_endpoint(alice, url="http://127.0.0.1:9/hook")
    older = make_artifact(alice)
    newer = make_artifact(alice, repository=older.repository)
    registry.follow_main(older.repository)  # as ingest does for each new revision
    assert Alias.objects.get(repository=older.repository, name="main").artifact == newer

    response = act(logged_in(charlie), "soft_delete", newer)

    assert "Soft-deleted 1 model(s)." in response.content.decode()
    newer.refresh_from_db()
    assert newer.deleted_at is not None
    assert Alias.objects.get(repository=older.repository, name="main").artifact == older
    assert Event.objects.filter(type="artifact.deleted", payload__data__id=str(newer.pk)).count() == 1


def test_admin_restore_keeps_the_retention_and_says_what_could_not_come_back(settings, alice, charlie):
    settings.ARTIFACT_RETENTION_DAYS = 30
    recent = make_artifact(alice, deleted_at=timezone.now() - timedelta(days=1))
    old = make_artifact(alice, deleted_at=timezone.now() - timedelta(days=40))

    page = act(logged_in(charlie), "restore", recent, old).content.decode()

    assert "Restored 1 model(s)." in page and "1 model(s) were deleted longer than the retention ago" in page
    assert ModelArtifact.objects.get(pk=recent.pk).deleted_at is None
    assert ModelArtifact.objects.get(pk=old.pk).deleted_at is not None
    assert Event.objects.filter(type="artifact.restored").count() == 1


def test_staff_read_a_repository_with_its_aliases_and_history_but_cannot_edit_it(alice, charlie):
    model = make_artifact(alice)
    registry.move_alias(alice, model.repository, "production", model)
    staff = logged_in(charlie)
    listing = staff.get("/admin/artifacts/repository/")
    assert listing.status_code == 200 and model.repository.name in listing.content.decode()
    page = staff.get(f"/admin/artifacts/repository/{model.repository.pk}/change/").content.decode()
    assert "production" in page and model.commit in page
    assert staff.post(f"/admin/artifacts/repository/{model.repository.pk}/change/", {"name": "x"}).status_code == 403
    assert staff.get("/admin/artifacts/repository/add/").status_code == 403
