"""A token's name tells tokens apart on the tokens page, so it must show something: a name made only
of blank-looking characters is refused like one of control characters."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["\u3164", "\u2800 \u2800", "\u0301"])
def test_a_name_that_shows_nothing_is_refused_and_no_token_is_made(alice, alice_client, name):
    response = alice_client.post("/account/tokens", {"name": name})

    assert response.status_code == 400
    assert "Use at least one visible character" in response.content.decode()
    assert not ApiToken.objects.filter(user=alice).exists()


def test_the_command_refuses_it_too(alice):
    with pytest.raises(CommandError, match="visible character"):
        call_command("create_api_token", "alice", "--name", "   ")
    assert not ApiToken.objects.exists()


def test_a_name_with_a_blank_looking_character_inside_is_kept(alice, alice_client):
    assert alice_client.post("/account/tokens", {"name": "ci\u2800runner"}).status_code == 201
    assert ApiToken.objects.get(user=alice).name == "ci\u2800runner"
