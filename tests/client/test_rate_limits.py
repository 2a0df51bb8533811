"""A rate limit or lockout (429) is reported at once with its wait; only short ones are sat out.

The lockout runs against the live server (bad tokens from one address); the rules for short and
long waits against scripted answers.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from pipeline_client.api import Api
from pipeline_client.config import Login
from pipeline_client.errors import ApiError, DownloadFailed
from pipeline_client.transfer import RemoteFile, Transfer, UrlBook
from pipeline_client.units import human_size, human_wait

from tests.client.conftest import run

BODY = b"weights" * 1000
REMOTE = RemoteFile("weights.bin", len(BODY), hashlib.sha256(BODY).hexdigest())
MODELS = {"data": {"models": [], "pagination": {"page": 1, "limit": 12, "total": 0, "totalPages": 0}}}


def lock_out(server: str, settings) -> None:
    """Enough bad tokens from this address that the server blocks it for the cool-off."""
    settings.API_TOKEN_FAILURE_LIMIT = 3
    for _ in range(3):
        httpx.get(f"{server}/api/models", headers={"Authorization": "Bearer plt_wrong-token-value"})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", [["models", "list"], ["download", "ANY-ID"], ["login"]])
def test_a_lockout_is_reported_at_once_with_the_wait(server, settings, monkeypatch, retry_waits, command):
    lock_out(server, settings)
    wrong = "plt_a-mistyped-token-value"  # the user goes on trying: the address is blocked
    monkeypatch.setenv("PIPELINE_URL", server)
    monkeypatch.setenv("PIPELINE_TOKEN", wrong)
    args = [*command, "--url", server, "--token", wrong] if command == ["login"] else command

    started = time.monotonic()
    result = run(*args)

    assert time.monotonic() - started < 5
    assert sum(retry_waits) <= 10  # nothing slept through (the old client waited minutes)
    assert result.exit_code == 1
    assert re.fullmatch(
        r"error: the server is limiting requests \(too many invalid API tokens from this address[^)]*\); "
        r"try again in (15 min|14 min \d+ s)\n",
        result.stderr,
    ), result.stderr


def api(answers) -> Api:
    replies = iter(answers)
    return Api(Login("http://api.example", "t"), transport=httpx.MockTransport(lambda request: next(replies)))


def lockout(seconds: int) -> httpx.Response:
    return httpx.Response(
        429,
        json={"error": "Too many invalid API tokens from this address.", "details": {"retry_after_seconds": seconds}},
        headers={"Retry-After": str(seconds)},
    )


def test_a_short_rate_limit_is_sat_out_quietly(retry_waits):
    client = api([lockout(2), lockout(1), httpx.Response(200, json=MODELS)])

    assert client.list_models(page=1, limit=12, sort="created_at")["models"] == []
    assert retry_waits == [2.0, 1.0]


def test_a_long_wait_is_reported_without_sleeping(retry_waits):
    client = api([lockout(872)])

    with pytest.raises(ApiError) as raised:
        client.list_models(page=1, limit=12, sort="created_at")

    assert str(raised.value) == (
        "the server is limiting requests (too many invalid API tokens from this address); try again in 14 min 32 s"
    )
    assert retry_waits == []


def test_short_waits_stop_once_they_add_up_to_ten_seconds(retry_waits):
    client = api([lockout(3)] * 10)

    with pytest.raises(ApiError, match=r"try again in 3 s$"):
        client.check_login()

    assert retry_waits == [3.0, 3.0, 3.0]


def test_the_retry_after_header_is_used_when_the_body_is_not_the_envelope(retry_waits):
    client = api([httpx.Response(429, text="slow down", headers={"Retry-After": "120"})])

    with pytest.raises(ApiError, match=r"^the server is limiting requests \(HTTP 429\); try again in 2 min$"):
        client.check_login()
    assert retry_waits == []


@pytest.mark.parametrize("stated", ["Expected available in 45 seconds.", "Try again in 45 seconds."])
def test_a_wait_the_message_states_itself_is_said_once(retry_waits, stated):
    throttled = httpx.Response(
        429, json={"error": f"Request was throttled. {stated}", "details": {"retry_after_seconds": 45}}
    )

    with pytest.raises(ApiError) as raised:
        api([throttled]).check_login()
    assert str(raised.value) == "the server is limiting requests (request was throttled); try again in 45 s"


def transfer(tmp_path: Path, answers) -> Transfer:
    replies = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        return next(replies)

    book = UrlBook(lambda names: {name: f"https://files.example/{name}" for name in names}, [REMOTE.name])
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Transfer(http, book, REMOTE, tmp_path / "part", lambda n: None, lambda n: None, threading.Event())


def test_the_download_server_limiting_for_long_stops_the_file_at_once(tmp_path, retry_waits):
    job = transfer(tmp_path, [httpx.Response(429, headers={"Retry-After": "600"})])

    with pytest.raises(DownloadFailed, match=r"^weights.bin: the download server is limiting requests .*10 min$"):
        job.run()
    assert retry_waits == []


def test_the_download_server_limiting_briefly_is_sat_out(tmp_path, retry_waits):
    whole = httpx.Response(200, content=iter([BODY]))  # streamed, as over a socket
    job = transfer(tmp_path, [httpx.Response(429, headers={"Retry-After": "1"}), whole])

    assert job.run() == REMOTE.sha256
    assert retry_waits == [1.0]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1 s"), (45, "45 s"), (60, "1 min"), (872, "14 min 32 s"), (900, "15 min"), (7500, "2 h 5 min")],
)
def test_waits_read_as_people_say_them(seconds, text):
    assert human_wait(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * 1024**2 + 123, "3.0 MiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_sizes_are_binary_and_labelled_so(size, text):
    assert human_size(size) == text
