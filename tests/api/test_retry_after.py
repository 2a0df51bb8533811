"""Every 429 of the API says when to come back: a ``Retry-After`` header in whole seconds, and the
same number in the envelope's ``details.retry_after_seconds`` (bad-token lockouts and the download
grant throttle alike)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import ApiToken
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(alice) -> Client:
    return Client(headers={"Authorization": f"Bearer {ApiToken.objects.issue(alice)[1]}"})


@pytest.fixture
def model(alice):
    artifact = make_artifact(alice, name="Throttled")
    add_file(artifact, "adapter_model.safetensors", b"weights")
    return artifact


def grant(api: Client, model):
    return api.post(f"/api/models/{model.id}/download", {}, content_type="application/json")


def assert_says_when(response, seconds: int | None = None) -> int:
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    header = int(response["Retry-After"])
    assert header >= 1
    assert response.json()["details"] == {"retry_after_seconds": header}
    if seconds is not None:
        assert header == seconds
    return header


def test_the_download_grant_throttle_says_the_wait(api, model, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"download_grant": "2/min"})
    assert grant(api, model).status_code == 200
    assert grant(api, model).status_code == 200

    wait = assert_says_when(grant(api, model))

    assert wait <= 60


def test_a_throttle_that_cannot_say_its_wait_still_sends_one(api, model, monkeypatch):
    """DRF's rate throttles give no wait when the rate was lowered after requests were counted;
    the 429 still carries a Retry-After, and the message says it too."""
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"download_grant": "5/min"})
    for _ in range(3):
        assert grant(api, model).status_code == 200
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"download_grant": "1/min"})

    response = grant(api, model)

    assert_says_when(response, 60)
    assert response.json()["error"].endswith("Try again in 60 seconds.")


def test_the_bad_token_lockout_says_the_wait(settings, model):
    settings.API_TOKEN_FAILURE_LIMIT = 2
    bad = Client(headers={"Authorization": "Bearer plt_not-a-real-token-at-all"})
    assert bad.get("/api/models").status_code == 401

    for path in ("/api/models", f"/api/models/{model.id}", "/api/notifications"):
        assert_says_when(bad.get(path), settings.API_TOKEN_COOLOFF_MINUTES * 60)
    assert_says_when(grant(bad, model), settings.API_TOKEN_COOLOFF_MINUTES * 60)
