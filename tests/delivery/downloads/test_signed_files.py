"""The signed local file endpoint (``/downloads/<token>``): the file as an attachment, HEAD, byte
ranges, resume and conditional requests."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django.utils.http import http_date, parse_http_date

from tests.delivery.downloads.conftest import WEIGHTS
from tests.delivery.grants import body_of, signed_url
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db


def test_signed_url_downloads_the_file_as_an_attachment(owner, model):
    url = signed_url(owner, model)
    response = Client().get(url)

    assert response.status_code == 200
    assert response.streaming  # FileResponse: streamed, sendfile-able
    assert body_of(response) == WEIGHTS
    assert response["Content-Length"] == str(len(WEIGHTS))
    assert response["Content-Disposition"] == 'attachment; filename="adapter_model.safetensors"'
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{hashlib.sha256(WEIGHTS).hexdigest()}"'


def test_head_answers_headers_without_a_body(owner, model):
    response = Client().head(signed_url(owner, model))
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(len(WEIGHTS))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{hashlib.sha256(WEIGHTS).hexdigest()}"'
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(WEIGHTS) - 1),
        ("bytes=-50", len(WEIGHTS) - 50, len(WEIGHTS) - 1),
        ("bytes=1000-5000", 1000, len(WEIGHTS) - 1),
        ("bytes=-5000", 0, len(WEIGHTS) - 1),
        ("bytes=7-7", 7, 7),
    ],
)
def test_range_requests_return_exact_slices(owner, model, range_header, first, last):
    response = Client().get(signed_url(owner, model), HTTP_RANGE=range_header)

    assert response.status_code == 206
    assert body_of(response) == WEIGHTS[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(WEIGHTS)}"
    assert response["Content-Length"] == str(last - first + 1)


def test_a_range_spanning_many_stream_blocks_is_exact(alice, owner):
    import os

    big = os.urandom(300_000)
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_model.bin", big)
    url = signed_url(owner, artifact, "adapter_model.bin")

    middle = Client().get(url, HTTP_RANGE="bytes=5000-250000")
    whole = Client().get(url)

    assert body_of(middle) == big[5000:250001]
    assert middle["Content-Length"] == str(245_001)
    assert body_of(whole) == big


def test_head_with_a_range_describes_the_slice(owner, model):
    response = Client().head(signed_url(owner, model), HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-99/{len(WEIGHTS)}"
    assert response["Content-Length"] == "100"


@pytest.mark.parametrize("range_header", ["bytes=1028-", "bytes=5000-6000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(owner, model, range_header):
    response = Client().get(signed_url(owner, model), HTTP_RANGE=range_header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(WEIGHTS)}"


@pytest.mark.parametrize("range_header", ["bytes=abc", "lines=0-10", "bytes=0-1,5-6", "bytes=50-10", "bytes=-"])
def test_a_malformed_or_multi_range_header_is_ignored(owner, model, range_header):
    response = Client().get(signed_url(owner, model), HTTP_RANGE=range_header)
    assert response.status_code == 200
    assert body_of(response) == WEIGHTS


def test_curl_resume_gives_the_exact_file(owner, model):
    """``curl -C -``: an interrupted transfer continues with ``Range: bytes=<have>-``."""
    url = signed_url(owner, model)
    have = body_of(Client().get(url))[:321]  # the connection dropped after 321 bytes

    rest = Client().get(url, HTTP_RANGE=f"bytes={len(have)}-")

    assert rest.status_code == 206
    whole = have + body_of(rest)
    detail = owner.get(f"/api/models/{model.id}").json()["data"]
    expected = next(f["sha256"] for f in detail["files"] if f["filename"] == "adapter_model.safetensors")
    assert hashlib.sha256(whole).hexdigest() == expected


def test_if_none_match_with_the_current_etag_is_304(owner, model):
    url = signed_url(owner, model)
    etag = Client().head(url)["ETag"]

    response = Client().get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""
    assert Client().get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


def test_if_range_resumes_only_the_same_file(owner, model):
    url = signed_url(owner, model)
    etag = Client().head(url)["ETag"]

    same = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=etag)
    changed = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE='"an-older-version"')

    assert same.status_code == 206
    assert body_of(same) == WEIGHTS[10:20]
    assert changed.status_code == 200
    assert body_of(changed) == WEIGHTS


def test_if_range_with_a_later_date_sends_the_whole_file(owner, model):
    """A date only matches Last-Modified exactly (RFC 9110 §13.1.5): "later" is not "unchanged"."""
    url = signed_url(owner, model)
    last_modified = parse_http_date(Client().head(url)["Last-Modified"])

    later = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=http_date(last_modified + 3600))
    earlier = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=http_date(last_modified - 3600))
    junk = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE="yesterday")

    for response in (later, earlier, junk):
        assert response.status_code == 200
        assert "Content-Range" not in response
        assert body_of(response) == WEIGHTS


def test_if_range_with_the_exact_last_modified_date_resumes(owner, model):
    url = signed_url(owner, model)
    last_modified = Client().head(url)["Last-Modified"]

    response = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=last_modified)

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(WEIGHTS)}"
    assert body_of(response) == WEIGHTS[10:20]


def test_if_range_with_a_weak_etag_sends_the_whole_file(owner, model):
    url = signed_url(owner, model)
    etag = Client().head(url)["ETag"]

    response = Client().get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=f"W/{etag}")

    assert response.status_code == 200
    assert body_of(response) == WEIGHTS
