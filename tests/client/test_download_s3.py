"""``pipeline download`` from S3 presigned URLs (moto's S3 server) with a connection cut halfway.

Every link the API hands out is ours and redirects to a presigned URL minted per request; our link's
expiry is what the client re-mints (moto does not enforce a presigned URL's own expiry).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine

from artifacts.models import DownloadGrant
from tests.client.conftest import FILES, WEIGHTS, run
from tests.client.proxy import CuttingProxy
from tests.conftest import use_storage
from tests.factories import add_file, make_artifact

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def s3_proxy(s3_storage, settings):
    """Files in moto's S3 server; presigned links point at a cutting proxy in front of it."""
    options = settings.STORAGES["artifacts"]["OPTIONS"]
    endpoint = urlsplit(options["endpoint_url"])
    proxy = CuttingProxy((endpoint.hostname, endpoint.port))
    use_storage(settings, settings.STORAGES["artifacts"]["BACKEND"], **options, public_endpoint_url=proxy.url)
    yield proxy
    proxy.close()


@pytest.fixture
def s3_model(alice, s3_proxy):
    artifact = make_artifact(alice, name="On S3")
    for name, content in FILES.items():
        add_file(artifact, name, content)
    return artifact


def test_s3_download_resumes_after_a_cut_and_verifies(env_login, server, s3_proxy, s3_model, tmp_path):
    target = tmp_path / "model"
    s3_proxy.cut_after(len(WEIGHTS) // 2)

    result = run("download", str(s3_model.id), str(target), "--workers", "1")

    assert result.exit_code == 0, result.output
    for name, content in FILES.items():
        assert (target / name).read_bytes() == content
    assert s3_proxy.cuts == 1
    resumed = [r for r in s3_proxy.ranges() if r and r != "bytes=0-"]
    assert len(resumed) == 1
    assert len(WEIGHTS) // 3 < int(resumed[0].removeprefix("bytes=").removesuffix("-")) < len(WEIGHTS)
    assert s3_proxy.sent_to_client < sum(map(len, FILES.values())) + 16384
    assert run("verify", str(target)).exit_code == 0


def test_s3_links_redirect_and_the_resume_carries_if_range(env_login, server, s3_proxy, s3_model, tmp_path):
    """Every link is ours: the client follows its redirect to the bucket, and the resumed request
    that reaches S3 carries the Range and the If-Range the client set on our link."""
    target = tmp_path / "model"
    s3_proxy.cut_after(len(WEIGHTS) // 2)

    result = run("download", str(s3_model.id), str(target), "--files", "adapter_model.safetensors")

    assert result.exit_code == 0, result.output
    assert (target / "adapter_model.safetensors").read_bytes() == WEIGHTS
    heads = [head.lower() for head in s3_proxy.request_heads]
    resumed = [head for head in heads if "range: bytes=" in head and "bytes=0-" not in head]
    assert len(resumed) == 1 and "if-range: " in resumed[0]


def test_an_expired_s3_link_is_reminted_and_the_download_resumes(
    env_login, server, s3_proxy, s3_model, tmp_path, settings
):
    settings.SIGNED_URL_TTL = 60
    target = tmp_path / "model"
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:
        # The connection drops halfway and, by the time the client retries, our link has expired.
        s3_proxy.cut_after(len(WEIGHTS) // 2, then=lambda: clock.shift(timedelta(seconds=120)))

        result = run("download", str(s3_model.id), str(target), "--files", "adapter_model.safetensors")

    assert result.exit_code == 0, result.output
    assert (target / "adapter_model.safetensors").read_bytes() == WEIGHTS
    assert DownloadGrant.objects.filter(artifact=s3_model).count() == 2  # the first link, then a new one
    resumed = [r for r in s3_proxy.ranges() if r and r != "bytes=0-"]
    assert len(resumed) == 1


def test_a_deleted_models_s3_download_stops_with_a_plain_reason(env_login, server, s3_proxy, s3_model, tmp_path):
    from artifacts.services.lifecycle import soft_delete

    s3_proxy.cut_after(len(WEIGHTS) // 2, then=lambda: soft_delete(s3_model))

    result = run("download", str(s3_model.id), str(tmp_path / "m"), "--files", "adapter_model.safetensors")

    assert result.exit_code != 0
    assert "adapter_model.safetensors: the server no longer has this file (HTTP 404)" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "m" / "adapter_model.safetensors").exists()
