"""``pipeline download`` from S3 presigned URLs (moto's S3 server) with a connection cut halfway.

moto does not enforce a presigned URL's expiry, so re-minting is covered against the local signed
endpoint (``test_download.py``) and with scripted 403 answers (``test_transfer.py``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

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
