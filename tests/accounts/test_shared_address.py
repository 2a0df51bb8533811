"""Many API clients share one address (an office's NAT, a pool of CI runners): one of them sending
bad tokens slows its own bad tokens, never the others' valid ones."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import ApiToken
from tests.factories import make_artifact

pytestmark = pytest.mark.django_db

LIMIT = django_settings.API_TOKEN_FAILURE_LIMIT
COOLOFF = django_settings.API_TOKEN_COOLOFF_MINUTES * 60
OFFICE = "203.0.113.7"
BAD = "plt_someone-elses-expired-token-value"


def call(token: str, address: str = OFFICE, path: str = "/api/models"):
    return Client(headers={"Authorization": f"Bearer {token}"}).get(path, REMOTE_ADDR=address)


def lock_out(address: str = OFFICE) -> None:
    statuses = [call(BAD, address).status_code for _ in range(LIMIT)]
    assert statuses[-1] == 429


def test_a_valid_token_is_served_while_its_address_is_locked_out(alice, bob):
    model = make_artifact(alice, name="Support bot")
    alice_token = ApiToken.objects.issue(alice, name="ci")[1]
    bob_token = ApiToken.objects.issue(bob, name="laptop")[1]
    lock_out()

    for _ in range(3):  # again and again, not just once
        response = call(alice_token, path=f"/api/models/{model.pk}")
        assert response.status_code == 200
        assert response.json()["data"]["name"] == "Support bot"
    assert call(alice_token).status_code == 200
    assert call(bob_token).status_code == 200
    assert "Retry-After" not in call(alice_token)


def test_a_bad_token_from_the_locked_address_gets_429_with_the_wait(alice):
    good = ApiToken.objects.issue(alice)[1]
    lock_out()
    assert call(good).status_code == 200  # served in between: the block on bad tokens stays

    for token in (BAD, "plt_another-guess-at-a-token-value", "not-even-a-token"):
        response = call(token)
        assert response.status_code == 429
        assert response["Retry-After"] == str(COOLOFF)
        body = response.json()
        assert body["error"].startswith("Too many invalid API tokens from this address")
        assert "not valid" in body["error"]
        assert body["details"] == {"retry_after_seconds": COOLOFF}


def test_a_revoked_token_from_the_locked_address_is_a_bad_token(alice):
    token, raw = ApiToken.objects.issue(alice)
    assert call(raw).status_code == 200
    token.revoke()
    lock_out()
    assert call(raw).status_code == 429


def test_valid_tokens_from_a_locked_address_do_not_lift_the_block(alice):
    good = ApiToken.objects.issue(alice)[1]
    lock_out()
    for _ in range(LIMIT * 2):
        assert call(good).status_code == 200
    assert call(BAD).status_code == 429
