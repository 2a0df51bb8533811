"""The retry table of ``artifacts.cluster``: every kind of failure, and what a retry does about it."""

from __future__ import annotations

import hashlib

import pytest
import requests
import responses
from botocore.exceptions import ClientError
from django.core.exceptions import SuspiciousFileOperation

from artifacts.cluster import ClusterClient, ClusterError, NeverRetry, RemoteFile, RetryLater, RetryNow, parse_listing
from artifacts.models import ArtifactIngest, ModelArtifact
from artifacts.services.ingest import Outcome, ingest
from artifacts.storage.local import LocalArtifactStorage
from artifacts.storage.s3 import s3_refusal
from pipeline.models import Notification
from tests.ingest_fakes import API, FILES, STORAGE_HOST, listing, serve, stored_files

LISTING_URL = f"{API}/training/artifacts/ext-1"
PRESIGNED = RemoteFile(name="a.bin", url=f"{STORAGE_HOST}/ext-1/a.bin?sig=abc")
ON_API_HOST = RemoteFile(name="a.bin", url=f"{API}/files/ext-1/a.bin")


pytestmark = pytest.mark.usefixtures("fake_cluster")


# --- The table, row by row, at the client ---------------------------------------------------------
@pytest.mark.parametrize(
    ("remote", "status", "error", "words"),
    [
        (PRESIGNED, 500, RetryNow, "HTTP 500"),
        (PRESIGNED, 502, RetryNow, "HTTP 502"),
        (PRESIGNED, 503, RetryNow, "HTTP 503"),
        (PRESIGNED, 408, RetryNow, "HTTP 408"),
        (PRESIGNED, 425, RetryNow, "HTTP 425"),
        (PRESIGNED, 429, RetryNow, "HTTP 429"),
        (PRESIGNED, 404, RetryLater, "not published yet"),
        (ON_API_HOST, 404, RetryLater, "not published yet"),
        (PRESIGNED, 401, RetryLater, "probably expired"),
        (PRESIGNED, 403, RetryLater, "probably expired"),
        (ON_API_HOST, 401, NeverRetry, "the cluster refused our key"),
        (ON_API_HOST, 403, NeverRetry, "the cluster refused our key"),
        (PRESIGNED, 400, NeverRetry, "HTTP 400"),
        (PRESIGNED, 410, NeverRetry, "HTTP 410"),
        (ON_API_HOST, 422, NeverRetry, "HTTP 422"),
    ],
)
@responses.activate
def test_an_http_error_status_says_what_a_retry_can_fix(remote, status, error, words):
    responses.add(responses.GET, remote.url, status=status)
    with pytest.raises(ClusterError) as caught, ClusterClient().open_file(remote):
        pass
    assert type(caught.value) is error
    assert words in str(caught.value)


@pytest.mark.parametrize("failure", [requests.ConnectionError("refused"), requests.ReadTimeout("slow")])
@responses.activate
def test_connection_errors_and_timeouts_are_retried_now(failure):
    responses.add(responses.GET, PRESIGNED.url, body=failure)
    with pytest.raises(RetryNow, match="cannot reach files.storage.test"), ClusterClient().open_file(PRESIGNED):
        pass


@responses.activate
def test_retry_now_errors_that_keep_failing_end_the_attempt_as_retry_later(no_retry_sleep):
    responses.add(responses.GET, LISTING_URL, status=503)
    with pytest.raises(RetryLater, match="HTTP 503"):
        ClusterClient().get_listing("ext-1")
    assert len(responses.calls) == 1 + ClusterClient.retries
    assert len(no_retry_sleep) == ClusterClient.retries


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"download_urls": {"../up": "http://x.test/a"}}, "path separator"),
        ({"download_urls": {"a.bin": "file:///etc/passwd"}}, r"not an http\(s\) URL"),
        ({"download_urls": ["a.bin"]}, "download_urls is not an object"),
        ("a string", "not a JSON object"),
    ],
)
def test_bad_listings_are_never_retried(body, words):
    with pytest.raises(NeverRetry, match=words):
        parse_listing(body)


def test_an_empty_listing_is_retried_later():
    with pytest.raises(RetryLater, match="No artifact files available from GPU cluster"):
        parse_listing({"download_urls": {}})


# --- The same rows through an ingest attempt: what the owner and the record show ------------------
def refuse_storage(error):
    def save_stream(self, key, chunks):
        raise error

    return save_stream


def s3_error(code):
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutObject")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "outcome", "state", "words"),
    [
        ("listing 404", Outcome.RETRY, "retrying", "not published yet"),
        ("listing 503 every time", Outcome.RETRY, "retrying", "HTTP 503"),
        ("listing 401", Outcome.FAILED, "failed", "the cluster refused our key"),
        ("presigned file 403", Outcome.RETRY, "retrying", "probably expired"),
        ("file 400", Outcome.FAILED, "failed", "HTTP 400"),
        ("body cut short", Outcome.RETRY, "retrying", "truncated body"),
        ("checksum mismatch", Outcome.FAILED, "failed", "checksum mismatch"),
        ("body longer than advertised", Outcome.FAILED, "failed", "body is longer than the expected 3 bytes"),
        ("Content-Length other than advertised", Outcome.FAILED, "failed", "differs from the advertised size 3"),
        ("storage refuses the size", Outcome.FAILED, "failed", "storage refused the file: EntityTooLarge"),
        ("storage refuses the key", Outcome.FAILED, "failed", "outside the storage root"),
        ("storage is busy", Outcome.RETRY, "retrying", "SlowDown"),
    ],
)
@responses.activate
def test_each_failure_ends_the_attempt_as_the_table_says(
    job, alice, artifact_root, monkeypatch, case, outcome, state, words
):
    config = "adapter_config.json"
    if case == "listing 404":
        responses.add(responses.GET, LISTING_URL, status=404)
    elif case == "listing 503 every time":
        responses.add(responses.GET, LISTING_URL, status=503)
    elif case == "listing 401":
        responses.add(responses.GET, LISTING_URL, status=401)
    elif case in ("presigned file 403", "file 400"):
        responses.add(responses.GET, LISTING_URL, json=listing())
        responses.add(responses.GET, f"{STORAGE_HOST}/ext-1/{config}", status=403 if "403" in case else 400)
    elif case == "body cut short":
        responses.add(responses.GET, LISTING_URL, json=listing({config: FILES[config]}, metadata=False))
        responses.add(
            responses.GET,
            f"{STORAGE_HOST}/ext-1/{config}",
            body=FILES[config][:5],
            headers={"Content-Length": str(len(FILES[config]))},
            auto_calculate_content_length=False,
        )
    elif case == "checksum mismatch":
        body = listing()
        body["model_metadata"]["files"][config]["sha256"] = hashlib.sha256(b"other").hexdigest()
        serve(responses, body=body)
    elif case == "body longer than advertised":
        body = listing()
        body["model_metadata"]["files"][config]["size"] = 3
        serve(responses, body=body)
    elif case == "Content-Length other than advertised":
        body = listing({config: FILES[config]})
        body["model_metadata"]["files"][config]["size"] = 3
        responses.add(responses.GET, LISTING_URL, json=body)
        responses.add(
            responses.GET, f"{STORAGE_HOST}/ext-1/{config}", body=FILES[config], auto_calculate_content_length=True
        )
    else:
        serve(responses)
        error = {
            "storage refuses the size": s3_error("EntityTooLarge"),
            "storage refuses the key": SuspiciousFileOperation("outside"),
            "storage is busy": s3_error("SlowDown"),
        }[case]
        monkeypatch.setattr(LocalArtifactStorage, "save_stream", refuse_storage(error))
        # A backend that answers as S3 does: its codes decide what is final (``artifacts.storage.s3``).
        monkeypatch.setattr(LocalArtifactStorage, "refusal", staticmethod(s3_refusal))

    result = ingest(job)

    assert result.outcome is outcome
    assert words in result.error
    row = ArtifactIngest.objects.get(job=job)
    assert (row.state, row.attempts) == (state, 1)  # attempt 1 of 3: only "never" gives up this early
    assert not ModelArtifact.objects.exists() and stored_files(artifact_root) == []
    failed_notes = Notification.objects.filter(user=alice, type="artifact_failed")
    assert failed_notes.count() == (1 if state == "failed" else 0)
    if outcome is Outcome.RETRY:
        assert result.retry_in and result.retry_in > 0


@pytest.mark.django_db
@responses.activate
def test_an_expired_presigned_link_is_fixed_by_the_next_attempts_fresh_listing(job):
    responses.add(responses.GET, LISTING_URL, json=listing())
    responses.add(responses.GET, f"{STORAGE_HOST}/ext-1/adapter_config.json", status=403)
    assert ingest(job).outcome is Outcome.RETRY
    ArtifactIngest.objects.filter(job=job).update(next_attempt_at=ArtifactIngest.objects.get(job=job).updated_at)
    responses.reset()
    serve(responses)
    assert ingest(job).outcome is Outcome.STORED
