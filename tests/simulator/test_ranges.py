"""The simulator's file URLs honour Range/If-Range and can be throttled per connection, so resumed
and parallel-range downloads can be exercised against it."""

import time

import pytest
import requests

from pipeline.simulator.files import AdapterSpec
from pipeline.simulator.server import RangeNotSatisfiable, SimulatorConfig, parse_range
from tests.conftest import simulator_running

KEY = "sim-range-key"


def start(tmp_path, **options):
    spec = AdapterSpec(rank=1, adapter_bytes=128 * 1024)
    return simulator_running(SimulatorConfig(api_key=KEY, cache_root=tmp_path / "sim", spec=spec, **options))


@pytest.fixture
def simulator(tmp_path):
    with start(tmp_path) as server:
        yield server


def adapter(server, job_id="range-job"):
    body = requests.get(
        f"{server.base_url}/training/artifacts/{job_id}", headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ).json()
    name = "adapter_model.safetensors"
    return body["download_urls"][name], body["model_metadata"]["files"][name]


def test_range_requests_answer_206_with_the_exact_bytes(simulator):
    url, meta = adapter(simulator)
    whole = requests.get(url, timeout=30)
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["ETag"] == f'"{meta["sha256"]}"'
    size = meta["size"]

    part = requests.get(url, headers={"Range": "bytes=100-4195"}, timeout=30)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-4195/{size}"
    assert part.content == whole.content[100:4196]

    tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=30)
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    rest = requests.get(url, headers={"Range": f"bytes={size - 5}-"}, timeout=30)
    assert rest.status_code == 206 and rest.content == whole.content[-5:]

    beyond = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=30)
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"


def test_if_range_with_another_version_gets_the_whole_file(simulator):
    url, meta = adapter(simulator)
    same = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{meta["sha256"]}"'}, timeout=30)
    assert same.status_code == 206 and len(same.content) == 10
    other = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'}, timeout=30)
    assert other.status_code == 200 and len(other.content) == meta["size"]


def test_corrupt_and_truncated_faults_apply_to_ranges_too(simulator):
    url, meta = adapter(simulator, "range-corrupt")
    assert len(requests.get(url, timeout=30).content) == meta["size"]
    flipped = meta["size"] - 1  # files under 1 MiB have their last byte flipped
    clean = simulator.manifest("range-corrupt").files["adapter_model.safetensors"].path.read_bytes()
    assert requests.get(url, headers={"Range": f"bytes={flipped}-"}, timeout=30).content != clean[flipped:]
    truncated_url, _ = adapter(simulator, "range-truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(truncated_url, headers={"Range": "bytes=0-999"}, timeout=30).content  # noqa: B018


def test_parse_range_rules():
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 1)
    assert parse_range("bytes=5-100", 10) == (5, 10)
    assert parse_range("bytes=-100", 10) == (0, 10)
    assert parse_range("bytes=3-1", 10) is None  # malformed: ignored, whole file
    assert parse_range("bytes=0-1,4-5", 10) is None  # multi-part: whole file
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=10-", 10)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 10)


def test_throttle_caps_each_connection(tmp_path):
    with start(tmp_path, throttle_bytes_per_second=256 * 1024) as server:
        url, meta = adapter(server)
        started = time.monotonic()
        body = requests.get(url, headers={"Range": "bytes=0-131071"}, timeout=30).content
        elapsed = time.monotonic() - started
    assert len(body) == 128 * 1024
    assert elapsed >= 0.45  # 128 KiB at 256 KiB/s takes half a second
