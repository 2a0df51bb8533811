"""The staff overview in the admin: storage, ingest success rate and times, failures with retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from artifacts.models import ArtifactIngest
from artifacts.pages.admin_overview import percentile
from tests.conftest import logged_in
from tests.factories import add_file, make_artifact, make_job, make_ready_bundle

pytestmark = pytest.mark.django_db

URL = "/admin/artifacts/ingestoverview/"


def ingest(job, state, seconds=None, error="", days_ago=1):
    finished = timezone.now() - timedelta(days=days_ago)
    return ArtifactIngest.objects.create(
        job=job,
        state=state,
        last_error=error,
        started_at=finished - timedelta(seconds=seconds or 0),
        finished_at=finished,
    )


def test_percentile():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([float(n) for n in range(1, 101)], 0.5) == pytest.approx(50.5)
    assert percentile([float(n) for n in range(1, 101)], 0.95) == pytest.approx(95.05)


def test_overview_shows_storage_ingest_times_and_failures(alice, bob, charlie, enqueued):
    model = make_artifact(alice)
    add_file(model, "adapter_model.safetensors", b"w" * 4096)
    make_ready_bundle(model, 1024)
    add_file(make_artifact(bob), "adapter_config.json", b"{}")
    for seconds in (10, 20, 30, 40):
        ingest(make_job(alice), ArtifactIngest.State.SUCCEEDED, seconds)
    ingest(make_job(alice), ArtifactIngest.State.SUCCEEDED, 999, days_ago=9)  # outside the window
    failed = [ingest(make_job(bob), ArtifactIngest.State.FAILED, 5, error="cluster said 404") for _ in range(2)]
    ingest(make_job(bob), ArtifactIngest.State.FAILED, 5, error="checksum mismatch")

    page = logged_in(charlie).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="artifacts-live">2<' in html
    assert 'data-testid="storage-total">5.0\xa0KiB<' in html  # 4096 + 2 + 1024 bytes
    assert html.count('data-testid="storage-user"') == 2
    assert 'data-testid="success-rate">57%<' in html  # 4 of 7 finished in the window
    assert 'data-testid="p50">25.0 s<' in html
    assert 'data-testid="p95">38.5 s<' in html
    assert html.count('data-testid="failure"') == 2
    assert "cluster said 404" in html and "Retry 2" in html
    assert "Storage and ingest overview" in logged_in(charlie).get("/admin/").content.decode()

    response = logged_in(charlie).post(URL, {"reason": "cluster said 404"})
    assert response.status_code == 302
    states = {row.pk: row.state for row in ArtifactIngest.objects.filter(pk__in=[f.pk for f in failed])}
    assert set(states.values()) == {ArtifactIngest.State.PENDING}
    assert ArtifactIngest.objects.get(last_error="checksum mismatch").state == ArtifactIngest.State.FAILED


def test_overview_is_for_staff_only(alice, django_user_model):
    assert Client().get(URL).status_code == 302
    assert logged_in(alice).get(URL).status_code == 302  # not staff: the admin's login page
    staff = django_user_model.objects.create_user("dana", "d@example.com", "pw-dana-12345", is_staff=True)
    assert logged_in(staff).get(URL).status_code == 403  # staff without the view permission
    assert logged_in(staff).post(URL, {"reason": "x"}).status_code == 403
