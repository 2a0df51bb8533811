"""Per-user bundle limits: builds at once (429 with Retry-After) and bytes of zips (409), through
the API (the JSON envelope) and the page (the same sentence)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from artifacts.models import Bundle
from artifacts.services import bundles
from tests.factories import add_file, make_artifact, make_ready_bundle

pytestmark = pytest.mark.django_db

KIB = 1024


@pytest.fixture
def builds(monkeypatch) -> list[tuple[str, str]]:
    from pipeline.celery import app

    queued: list[tuple[str, str]] = []
    monkeypatch.setattr(app.tasks["artifacts.tasks.build_bundle"], "delay", lambda *args: queued.append(args))
    return queued


@pytest.fixture
def models(alice):
    made = []
    for n in range(3):
        model = make_artifact(alice, name=f"Model {n}")
        add_file(model, "adapter_model.safetensors", b"w" * 10 * KIB)
        made.append(model)
    return made


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    def post(client, model, page: bool = False):
        url = f"/models/{model.id}/bundle" if page else f"/api/models/{model.id}/bundle"
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url)

    return post


BUSY = "You have 2 zips being prepared, the most allowed at once (2). Try again when one is ready."


def test_a_third_build_at_once_is_429_with_retry_after(alice_client, models, builds, post, settings):
    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 2
    assert post(alice_client, models[0]).status_code == 202
    assert post(alice_client, models[1]).status_code == 202
    refused = post(alice_client, models[2])
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    assert refused.json() == {
        "error": f"{BUSY} Expected available in 30 seconds.",
        "details": {"retry_after_seconds": 30},
    }
    assert not Bundle.objects.filter(artifact=models[2]).exists() and len(builds) == 2
    assert post(alice_client, models[0]).status_code == 202  # asking after a running build is no new build
    assert bundles.build_bundle(*builds.pop(0))
    assert post(alice_client, models[2]).status_code == 202  # one finished: room again


def test_the_page_says_the_same_and_answers_429(alice_client, models, builds, post, settings):
    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 2
    post(alice_client, models[0])
    post(alice_client, models[1], page=True)
    refused = post(alice_client, models[2], page=True)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    html = refused.content.decode()
    assert f'data-testid="bundle-limit">{BUSY}<' in html
    assert "Prepare the zip" in html  # and the button to try again


def test_a_build_whose_worker_died_does_not_count(alice_client, models, builds, post, settings):
    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 1
    assert post(alice_client, models[0]).status_code == 202
    assert post(alice_client, models[1]).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.ARTIFACT_LEASE_SECONDS + 60)):
        assert post(alice_client, models[1]).status_code == 202


def test_another_users_builds_do_not_count(alice_client, bob, models, builds, post, settings):
    from tests.conftest import logged_in

    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 1
    theirs = make_artifact(bob)
    add_file(theirs, "a.bin", b"x")
    assert post(logged_in(bob), theirs).status_code == 202
    assert post(alice_client, models[0]).status_code == 202


def test_zips_past_the_storage_limit_are_409(alice_client, models, builds, post, settings):
    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 0  # no limit at once
    settings.BUNDLE_STORAGE_LIMIT_BYTES = 40 * KIB
    make_ready_bundle(models[0], 25 * KIB)
    assert post(alice_client, models[1]).status_code == 202  # 25 KiB ready + 10 KiB: fits
    refused = post(alice_client, models[2])  # 25 ready + 10 under way + 10 more: does not
    assert refused.status_code == 409
    message = (
        "Your zips take 35.0 KiB of the 40.0 KiB allowed, and this one needs about 10.0 KiB more. "
        f"Zips nobody downloads for {settings.BUNDLE_TTL_DAYS} days are removed; "
        "until then, download the files one by one."
    )
    assert refused.json() == {
        "error": message,
        "details": {"used_bytes": 35 * KIB, "needed_bytes": 10 * KIB, "allowed_bytes": 40 * KIB},
    }
    assert "Retry-After" not in refused
    page = post(alice_client, models[2], page=True)
    assert page.status_code == 409
    assert f'data-testid="bundle-limit">{message}<' in page.content.decode()


def test_zero_means_no_limit(alice_client, models, builds, post, settings):
    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 0
    settings.BUNDLE_STORAGE_LIMIT_BYTES = 0
    make_ready_bundle(make_artifact(models[0].user), 10**15)
    assert [post(alice_client, m).status_code for m in models] == [202, 202, 202]


def test_a_ready_bundle_is_handed_out_whatever_the_limits(alice_client, models, builds, post, settings):
    assert post(alice_client, models[0]).status_code == 202
    assert bundles.build_bundle(*builds.pop())
    settings.BUNDLE_MAX_CONCURRENT_PER_USER = 1
    settings.BUNDLE_STORAGE_LIMIT_BYTES = 1
    assert post(alice_client, models[1]).status_code == 409
    ready = post(alice_client, models[0])
    assert ready.status_code == 200 and ready.json()["data"]["status"] == "ready"
