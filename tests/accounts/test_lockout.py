"""Failed logins are throttled per username and per client address (django-axes), on the login
page and the admin's, with a 429 page that says how long to wait."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from accounts.throttling import client_address

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/?next=/admin/"
LIMIT = django_settings.LOGIN_FAILURE_LIMIT
LOCKED = "Too many failed logins"


def attempt(client: Client, username: str, password: str, address: str, url: str = LOGIN):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(times: int, username: str, address: str, url: str = LOGIN) -> list[int]:
    client = Client()
    return [attempt(client, username, "wrong-password", address, url).status_code for _ in range(times)]


def logs_in(username: str, password: str, address: str, url: str = LOGIN) -> bool:
    client = Client()
    response = attempt(client, username, password, address, url)
    return response.status_code == 302 and "_auth_user_id" in client.session


def test_the_login_page_locks_out_after_the_limit_with_a_429_page(alice):
    assert LIMIT >= 2
    client = Client()
    for _ in range(LIMIT - 1):
        response = attempt(client, "alice", "wrong-password", "10.0.0.1")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()

    locked = attempt(client, "alice", "wrong-password", "10.0.0.1")

    assert locked.status_code == 429
    page = locked.content.decode()
    assert LOCKED in page
    assert f"paused for {django_settings.LOGIN_COOLOFF_MINUTES} minutes" in page
    assert locked["Retry-After"] == str(django_settings.LOGIN_COOLOFF_MINUTES * 60)
    # The right password does not get through a lockout either.
    right = attempt(client, "alice", "alice-password-1", "10.0.0.1")
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_admin_login_locks_out_too(charlie):
    statuses = fail(LIMIT, "charlie", "10.0.0.2", ADMIN_LOGIN)
    assert statuses == [200] * (LIMIT - 1) + [429]

    client = Client()
    response = attempt(client, "charlie", "charlie-password-1", "10.0.0.2", ADMIN_LOGIN)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still not signed in


def test_an_account_is_locked_from_every_address_but_others_are_not(alice, bob):
    for n in range(LIMIT):  # one guess each from many addresses
        fail(1, "alice", f"10.1.0.{n}")

    assert not logs_in("alice", "alice-password-1", "10.9.9.9")
    assert logs_in("bob", "bob-password-1", "10.9.9.9")


def test_an_address_is_locked_for_every_account_but_others_are_not(alice, bob):
    for n in range(LIMIT):  # password spraying: one guess at each of many names
        fail(1, f"user{n}", "10.2.0.1")

    assert not logs_in("bob", "bob-password-1", "10.2.0.1")
    assert logs_in("bob", "bob-password-1", "10.2.0.2")
    assert logs_in("alice", "alice-password-1", "10.2.0.3")


def test_a_successful_login_forgets_that_clients_failures(alice):
    fail(LIMIT - 1, "alice", "10.3.0.1")
    assert logs_in("alice", "alice-password-1", "10.3.0.1")

    assert fail(LIMIT - 1, "alice", "10.3.0.1") == [200] * (LIMIT - 1)
    assert logs_in("alice", "alice-password-1", "10.3.0.1")


def test_a_successful_login_does_not_forget_someone_elses_guesses(alice):
    fail(LIMIT - 1, "alice", "10.4.0.66")  # an attacker
    assert logs_in("alice", "alice-password-1", "10.4.0.1")  # alice, elsewhere

    assert fail(1, "alice", "10.4.0.66") == [429]


def test_logging_into_your_own_account_does_not_clear_your_address(alice, bob):
    fail(LIMIT - 1, "alice", "10.5.0.66")
    assert logs_in("bob", "bob-password-1", "10.5.0.66")  # the attacker's own account

    assert fail(1, "carol", "10.5.0.66") == [429]


def test_the_lockout_ends_after_the_cool_off(alice):
    fail(LIMIT, "alice", "10.6.0.1")
    assert not logs_in("alice", "alice-password-1", "10.6.0.1")

    later = timezone.now() + timedelta(minutes=django_settings.LOGIN_COOLOFF_MINUTES, seconds=5)
    with time_machine.travel(later, tick=False):
        assert logs_in("alice", "alice-password-1", "10.6.0.1")


def test_a_forged_forwarded_for_header_does_not_dodge_the_address_lockout(bob):
    client = Client()
    for n in range(LIMIT):
        client.post(
            LOGIN,
            {"username": f"user{n}", "password": "x"},
            REMOTE_ADDR="10.7.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    response = client.post(
        LOGIN,
        {"username": "bob", "password": "bob-password-1"},
        REMOTE_ADDR="10.7.0.1",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert response.status_code == 429


class FakeRequest:
    def __init__(self, remote: str, forwarded: str | None = None) -> None:
        self.META = {"REMOTE_ADDR": remote}
        self.headers = {"x-forwarded-for": forwarded} if forwarded else {}


def test_client_address_trusts_forwarded_for_only_from_our_own_proxies(settings):
    assert client_address(FakeRequest("10.0.0.5", "203.0.113.9")) == "10.0.0.5"

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # The right-most entry is the one our proxy wrote; anything left of it came from the client.
    assert client_address(FakeRequest("10.0.0.5", "198.51.100.1, 203.0.113.9")) == "203.0.113.9"
    assert client_address(FakeRequest("10.0.0.5", "not-an-address")) == "10.0.0.5"


def test_an_ipv6_client_counts_as_its_whole_slash_64():
    first = client_address(FakeRequest("2001:db8:1:2::1"))
    assert first == client_address(FakeRequest("2001:db8:1:2:ffff:ffff:ffff:fffe")) == "2001:db8:1:2::"
    assert client_address(FakeRequest("2001:db8:1:3::1")) != first
    assert client_address(FakeRequest("::ffff:192.0.2.7")) == "192.0.2.7"


def test_a_failed_attempt_is_recorded_without_the_password_tried(alice):
    from axes.models import AccessAttempt

    fail(1, "alice", "10.8.0.1")
    Client().post(LOGIN, {"username": "alice", "password": "alice-password-2"}, REMOTE_ADDR="10.8.0.1")

    attempt_row = AccessAttempt.objects.get(username="alice", ip_address="10.8.0.1")
    assert attempt_row.failures_since_start == 2
    assert "alice-password" not in attempt_row.post_data and "wrong-password" not in attempt_row.post_data
