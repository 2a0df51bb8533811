"""What a signed download link opens and for how long: forged and foreign tokens, expiry, links to
deleted or missing files, and safe attachment names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.utils import timezone

from artifacts.storage.signing import make_token
from tests.delivery.downloads.conftest import WEIGHTS
from tests.delivery.grants import body_of, grant, signed_url
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db


def test_a_tampered_token_is_403(owner, model):
    url = signed_url(owner, model)
    prefix, token = url.rsplit("/", 1)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = Client().get(f"{prefix}/{tampered}")

    assert response.status_code == 403
    assert b"not valid" in response.content


def test_a_token_cannot_be_rebound_to_another_key(alice, owner, model):
    """Swapping the signed payload for another key (or another user's file) breaks the signature."""
    other = make_artifact(alice)
    add_file(other, "adapter_model.safetensors", b"another model's weights")
    url = signed_url(owner, model)
    prefix, token = url.rsplit("/", 1)
    _, timestamp, signature = token.rsplit(":", 2)
    other_token = make_token(other.artifacts["adapter_model.safetensors"], "adapter_model.safetensors", 3600)
    forged = f"{other_token.rsplit(':', 2)[0]}:{timestamp}:{signature}"
    assert Client().get(f"{prefix}/{other_token}").status_code == 200  # the honest token works

    response = Client().get(f"{prefix}/{forged}")

    assert response.status_code == 403


def test_a_token_signed_for_another_purpose_is_403(model):
    key = model.artifacts["adapter_model.safetensors"]
    foreign = signing.dumps({"k": key, "n": "x", "e": 2**40}, salt="some.other.purpose", compress=True)
    assert Client().get(f"/downloads/{foreign}").status_code == 403


def test_each_token_opens_only_its_own_key(alice, owner, model):
    other = make_artifact(alice)
    add_file(other, "adapter_model.safetensors", b"another model's weights")

    mine = Client().get(signed_url(owner, model))
    theirs = Client().get(signed_url(owner, other))

    assert body_of(mine) == WEIGHTS
    assert body_of(theirs) == b"another model's weights"


def test_an_expired_url_is_403(owner, model, settings):
    url = signed_url(owner, model)
    assert Client().head(url).status_code == 200

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SIGNED_URL_TTL + 5), tick=False):
        response = Client().get(url)

    assert response.status_code == 403
    assert b"expired" in response.content


def test_a_url_still_works_just_before_expiry(owner, model, settings):
    url = signed_url(owner, model)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SIGNED_URL_TTL - 5), tick=False):
        assert Client().get(url).status_code == 200


def test_a_file_of_a_model_deleted_after_the_grant_is_gone(owner, model):
    url = signed_url(owner, model)
    type(model).objects.filter(pk=model.pk).update(deleted_at=timezone.now())
    assert Client().get(url).status_code == 404


def test_a_file_missing_from_storage_is_404(owner, model, artifact_root):
    url = signed_url(owner, model)
    (artifact_root / model.artifacts["adapter_model.safetensors"]).unlink()
    assert Client().get(url).status_code == 404


def test_post_to_a_signed_url_is_405(owner, model):
    assert Client().post(signed_url(owner, model)).status_code == 405


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('we"ird.bin', 'attachment; filename="we\\"ird.bin"'),
        ("line\r\nbreak.bin", 'attachment; filename="line__break.bin"'),
        ("../../etc/passwd", 'attachment; filename="_.._etc_passwd"'),
        ("modèle.bin", "attachment; filename*=utf-8''mod%C3%A8le.bin"),
    ],
)
def test_content_disposition_is_always_a_safe_attachment(model, name, expected):
    token = make_token(model.artifacts["adapter_config.json"], name, 60)
    response = Client().get(f"/downloads/{token}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == expected


def test_expires_at_matches_the_signed_urls(owner, model, settings):
    frozen = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    with time_machine.travel(frozen, tick=False):
        data = grant(owner, model, {}).json()["data"]
    assert data["expires_at"] == "2026-03-01T13:00:00Z"
    url = data["download_urls"]["adapter_config.json"]
    with time_machine.travel(frozen + timedelta(seconds=settings.SIGNED_URL_TTL - 1), tick=False):
        assert Client().head(url).status_code == 200
    with time_machine.travel(frozen + timedelta(seconds=settings.SIGNED_URL_TTL + 1), tick=False):
        assert Client().head(url).status_code == 403
