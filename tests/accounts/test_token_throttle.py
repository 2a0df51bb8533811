"""Bad bearer tokens are counted per client address; past the limit that address's bad tokens get a
429 in the API's error envelope with Retry-After, while valid tokens, other addresses and sessions
carry on."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db

LIMIT = django_settings.API_TOKEN_FAILURE_LIMIT
COOLOFF = django_settings.API_TOKEN_COOLOFF_MINUTES * 60
BAD = "plt_wrong-token-value-that-does-not-exist"


@pytest.fixture
def good(alice) -> str:
    return ApiToken.objects.issue(alice, name="script")[1]


def call(token: str, address: str):
    return Client(headers={"Authorization": f"Bearer {token}"}).get("/api/models", REMOTE_ADDR=address)


def test_bad_tokens_are_refused_with_429_in_the_envelope_after_the_limit(good):
    statuses = [call(BAD, "10.0.0.1").status_code for _ in range(LIMIT - 1)]
    assert statuses == [401] * (LIMIT - 1)

    response = call(BAD, "10.0.0.1")

    assert response.status_code == 429
    assert response["Retry-After"] == str(COOLOFF)
    body = response.json()
    assert set(body) == {"error", "details"}
    assert body["error"].startswith("Too many invalid API tokens from this address.")
    assert body["details"] == {"retry_after_seconds": COOLOFF}
    # The block slows bad tokens only: a valid one from the same address is served.
    assert call(good, "10.0.0.1").status_code == 200
    assert call(BAD, "10.0.0.1").status_code == 429


def test_other_addresses_and_browser_sessions_are_not_slowed(alice, good):
    for _ in range(LIMIT):
        call(BAD, "10.0.0.1")

    assert call(good, "10.0.0.2").status_code == 200
    assert call(BAD, "10.0.0.3").status_code == 401
    assert logged_in(alice).get("/api/models", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_malformed_headers_count_as_failures(good):
    headers = ["Bearer", "Bearer a b", "Bearer nonsense", f"Bearer {BAD}"]
    statuses = [
        Client(headers={"Authorization": headers[n % len(headers)]})
        .get("/api/models", REMOTE_ADDR="10.0.1.1")
        .status_code
        for n in range(LIMIT)
    ]
    assert statuses == [401] * (LIMIT - 1) + [429]


def test_a_good_token_in_between_does_not_reset_the_count(good):
    for _ in range(LIMIT - 1):
        call(BAD, "10.0.2.1")
    assert call(good, "10.0.2.1").status_code == 200

    assert call(BAD, "10.0.2.1").status_code == 429


def test_the_block_ends_after_the_cool_off(good):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(LIMIT):
            call(BAD, "10.0.3.1")
        assert call(BAD, "10.0.3.1").status_code == 429

    with time_machine.travel(start + timedelta(seconds=COOLOFF + 1), tick=False):
        assert call(good, "10.0.3.1").status_code == 200
        assert call(BAD, "10.0.3.1").status_code == 401  # a fresh count


def test_a_bad_token_during_the_block_starts_it_over(good):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(LIMIT):
            call(BAD, "10.0.4.1")
    with time_machine.travel(start + timedelta(seconds=100), tick=False):
        response = call(BAD, "10.0.4.1")
    assert response.status_code == 429
    assert response["Retry-After"] == str(COOLOFF)
    assert response.json()["details"] == {"retry_after_seconds": COOLOFF}

    with time_machine.travel(start + timedelta(seconds=COOLOFF + 1), tick=False):
        assert call(BAD, "10.0.4.1").status_code == 429  # the guess at 100 s kept the block going
    with time_machine.travel(start + timedelta(seconds=2 * COOLOFF + 2), tick=False):
        assert call(BAD, "10.0.4.1").status_code == 401


def test_a_revoked_token_counts_as_a_failure(alice):
    token, raw = ApiToken.objects.issue(alice)
    token.revoke()
    statuses = [call(raw, "10.0.5.1").status_code for _ in range(LIMIT)]
    assert statuses == [401] * (LIMIT - 1) + [429]
