"""Edge cases of one transfer and of API retries, against scripted HTTP answers (no server needed)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import httpx
import pytest
from pipeline_client.api import Api
from pipeline_client.checksums import sums_for, unsafe_reason
from pipeline_client.config import Login
from pipeline_client.errors import ClientError, DownloadFailed
from pipeline_client.transfer import RemoteFile, Transfer, UrlBook

BODY = bytes(range(256)) * 40
REMOTE = RemoteFile("weights.bin", len(BODY), hashlib.sha256(BODY).hexdigest())


def transfer(tmp_path: Path, handler, mint=None) -> tuple[Transfer, UrlBook]:
    minted: list[int] = []

    def default_mint(names: list[str]) -> dict[str, str]:
        minted.append(1)
        return {name: f"https://files.example/{name}?v={len(minted)}" for name in names}

    book = UrlBook(mint or default_mint, [REMOTE.name])
    http = httpx.Client(transport=httpx.MockTransport(handler))
    job = Transfer(http, book, REMOTE, tmp_path / "weights.bin.part", lambda n: None, lambda n: None, threading.Event())
    return job, book


def streamed(status: int, data: bytes, **headers: str) -> httpx.Response:
    """An answer whose body arrives as a stream, as over a socket (``content=bytes`` is pre-read)."""
    return httpx.Response(status, content=iter([data[: len(data) // 2], data[len(data) // 2 :]]), headers=headers)


def ranged(request: httpx.Request) -> httpx.Response:
    start = int(request.headers.get("Range", "bytes=0-")[6:-1])
    if not start:
        return streamed(200, BODY, ETag='"abc"')
    return streamed(206, BODY[start:], **{"ETag": '"abc"', "Content-Range": f"bytes {start}-{len(BODY) - 1}/*"})


def test_5xx_answers_are_retried_with_backoff(tmp_path, retry_waits):
    answers = iter([httpx.Response(503), httpx.Response(502)])

    def handler(request):
        return next(answers, None) or ranged(request)

    job, _ = transfer(tmp_path, handler)

    assert job.run() == REMOTE.sha256
    assert (tmp_path / "weights.bin.part").read_bytes() == BODY
    assert len(retry_waits) == 2 and 0 < retry_waits[0] <= retry_waits[1]  # backing off


def test_a_server_that_keeps_failing_gives_up_with_one_message(tmp_path):
    job, _ = transfer(tmp_path, lambda request: httpx.Response(500))

    with pytest.raises(DownloadFailed, match=r"weights.bin: the download server answered HTTP 500 \(gave up after 5"):
        job.run()


def test_resume_sends_the_etag_seen_earlier_and_a_200_restarts_the_file(tmp_path):
    (tmp_path / "weights.bin.part").write_bytes(b"stale bytes")
    seen: list[dict] = []

    def handler(request):
        seen.append(dict(request.headers))
        return streamed(200, BODY)  # If-Range did not match: the whole file again

    job, _ = transfer(tmp_path, handler)

    assert job.run() == REMOTE.sha256
    assert seen[0]["range"] == "bytes=11-"
    assert seen[0]["if-range"] == f'"{REMOTE.sha256}"'
    assert seen[0]["accept-encoding"] == "identity"
    assert "authorization" not in seen[0]  # signed URLs never get the API token
    assert (tmp_path / "weights.bin.part").read_bytes() == BODY


def test_a_range_that_does_not_start_where_asked_starts_over(tmp_path):
    (tmp_path / "weights.bin.part").write_bytes(BODY[:100])
    calls: list[str] = []

    def handler(request):
        calls.append(request.headers.get("Range", ""))
        if len(calls) == 1:
            return streamed(206, BODY[50:], **{"Content-Range": f"bytes 50-{len(BODY) - 1}/*"})
        return ranged(request)

    job, _ = transfer(tmp_path, handler)

    assert job.run() == REMOTE.sha256
    assert calls == ["bytes=100-", ""]


def test_more_bytes_than_the_file_list_says_is_refused(tmp_path):
    job, _ = transfer(tmp_path, lambda request: streamed(200, BODY + b"extra"))

    with pytest.raises(DownloadFailed, match="sent more than"):
        job.run()


def test_an_expired_link_is_minted_again_once_for_all_files(tmp_path):
    def handler(request):
        if request.url.params["v"] == "1":
            return httpx.Response(403, text="This download link has expired.")
        return ranged(request)

    job, book = transfer(tmp_path, handler)

    assert job.run() == REMOTE.sha256
    assert book.grants == 2


def test_a_symlink_in_place_of_the_part_file_is_refused(tmp_path):
    (tmp_path / "elsewhere").write_bytes(b"")
    (tmp_path / "weights.bin.part").symlink_to(tmp_path / "elsewhere")
    job, _ = transfer(tmp_path, ranged)

    with pytest.raises(DownloadFailed, match="symbolic link"):
        job.run()
    assert (tmp_path / "elsewhere").read_bytes() == b""


def test_api_retries_5xx_then_reports_the_servers_error(retry_waits):
    answers = iter([httpx.Response(503), httpx.Response(400, json={"error": "limit: too big", "details": {}})])
    api = Api(Login("http://api.example", "t"), transport=httpx.MockTransport(lambda request: next(answers)))

    with pytest.raises(ClientError, match=r"^limit: too big \(HTTP 400\)$"):
        api.list_models(page=1, limit=500, sort="created_at")
    assert len(retry_waits) == 1


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "/etc/passwd", "..", ".", "", "a\\b", "C:evil", "bad\x00name", "line\nbreak", "~root"]
)
def test_unsafe_file_names_are_refused(name):
    assert unsafe_reason(name) is not None


@pytest.mark.parametrize("name", ["adapter_model.safetensors", "README.md", "..hidden", "a..b", "tokenizer.json"])
def test_plain_file_names_are_accepted(name):
    assert unsafe_reason(name) is None


def test_server_sums_that_contradict_the_file_list_are_refused():
    wanted = {"a.bin": "0" * 64}
    assert sums_for(f"{'0' * 64}  a.bin\n{'1' * 64}  other.bin\n", wanted) == wanted
    assert sums_for(None, wanted) == wanted
    with pytest.raises(ClientError, match="disagree about a.bin"):
        sums_for(f"{'f' * 64} *a.bin\n", wanted)


def test_a_long_download_may_outlive_more_links_than_the_renewal_limit(tmp_path):
    """Each link serves one slice and then expires; refusals only count when no bytes came between."""
    slices = 6
    step = len(BODY) // slices + 1

    def handler(request):
        version = int(request.url.params["v"])
        start = int(request.headers.get("Range", "bytes=0-")[6:-1])
        if start >= version * step:  # this link has served its slice: it has expired
            return httpx.Response(403, text="This download link has expired.")
        end = min(start + step, len(BODY))
        data = BODY[start:end]
        response = streamed(206 if start else 200, data, **{"Content-Range": f"bytes {start}-{len(BODY) - 1}/*"})
        if end < len(BODY):  # the connection drops after the slice
            response = httpx.Response(response.status_code, headers=response.headers, content=_then_drop(data))
        return response

    job, book = transfer(tmp_path, handler)

    assert job.run() == REMOTE.sha256
    assert book.grants == slices


def _then_drop(data: bytes):
    yield data
    raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
