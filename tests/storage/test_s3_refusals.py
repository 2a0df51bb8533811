"""S3 refusals no retry can fix end the ingest at once with S3's reason; cleanup pages (moto)."""

from __future__ import annotations

import boto3
import pytest
import responses
from moto import mock_aws

from artifacts.models import ArtifactIngest
from artifacts.services.ingest import Outcome, ingest
from tests.conftest import use_storage
from tests.ingest_fakes import finished_job, serve, use_fake_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(settings):
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="lora-models")
        use_storage(
            settings,
            "artifacts.storage.s3.S3ArtifactStorage",
            bucket_name="no-such-bucket",
            region_name="us-east-1",
        )
        use_fake_cluster(settings)
        yield


@responses.activate
def test_a_missing_bucket_fails_the_ingest_at_once(s3, alice):
    job = finished_job(alice)
    serve(responses)
    result = ingest(job)
    assert result.outcome is Outcome.FAILED
    assert "NoSuchBucket" in result.error
    assert ArtifactIngest.objects.get(job=job).attempts == 1


@pytest.mark.parametrize(
    ("code", "refused"),
    [("NoSuchBucket", True), ("InvalidBucketName", True), ("EntityTooLarge", True), ("SlowDown", False)],
)
def test_upload_errors_are_refusals_only_when_no_retry_can_fix_them(code, refused):
    from botocore.exceptions import ClientError

    from artifacts.storage.s3 import s3_refusal

    assert (s3_refusal(ClientError({"Error": {"Code": code}}, "PutObject")) == code) is refused
