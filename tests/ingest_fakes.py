"""A faked cluster for the ingest tests: a listing on the API host, files on a storage host."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import responses

from pipeline.models import TrainingJob
from tests.adapter_files import config, lora_tensors, safetensors_bytes
from tests.factories import add_history, make_dataset, make_job

API = "http://cluster.test"
STORAGE_HOST = "https://files.storage.test"
# A real, loadable PEFT adapter (1 MiB of weights), so ingest's inspection finds nothing wrong.
FILES = {
    "adapter_config.json": json.dumps(config(r=16, lora_alpha=32)).encode(),
    "adapter_model.safetensors": safetensors_bytes(lora_tensors(rank=16, hidden=256, layers=16)),
    "tokenizer_config.json": b'{"model_max_length": 4096}',
}


def use_fake_cluster(settings: Any) -> None:
    settings.GPU_CLUSTER_API_URL = API
    settings.GPU_CLUSTER_API_KEY = "cluster-secret-key"
    settings.ARTIFACT_MAX_ATTEMPTS = 3


def finished_job(user: Any) -> TrainingJob:
    """A completed job (external id ``ext-1``) with a converging loss history."""
    job = make_job(user, make_dataset(user, name="Support chats"), external_job_id="ext-1")
    add_history(job, [(2.4, 2.5), (1.2, 1.3), (0.3, 0.45)])
    return job


def listing(files=FILES, *, metadata=True, base=STORAGE_HOST, extra=None):
    body = {
        "download_urls": {name: f"{base}/ext-1/{name}?sig=abc" for name in files},
        "model_metadata": {"base_model": "mistral"},
    }
    if metadata:
        body["model_metadata"]["files"] = {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()
        }
    if extra:
        body.update(extra)
    return body


def serve(rsps, files=FILES, body=None, **kwargs):
    rsps.add(responses.GET, f"{API}/training/artifacts/ext-1", json=body or listing(files, **kwargs))
    for name, data in files.items():
        rsps.add(responses.GET, f"{STORAGE_HOST}/ext-1/{name}", body=data)


def stored_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


class FakeProgress:
    """Stands in for the lease-renewing ``Progress`` of ``transfer_file`` (no ingest row needed)."""

    def __init__(self) -> None:
        self.bytes_done = 0
        self.reported: list[dict] = []

    def report(self, *, force: bool = False, **fields) -> None:
        self.reported.append(fields)

    def advance(self, count: int) -> None:
        self.bytes_done += count


class RecordingInspector:
    """Records what ``transfer_file`` shows an inspector: the calls, and the bytes of the last attempt."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.fed = bytearray()

    @property
    def starts(self) -> int:
        return sum(1 for call in self.calls if call[0] == "start")

    def start_file(self, name, expected_size=None):
        self.calls.append(("start", name, expected_size))
        self.fed = bytearray()

    def feed(self, name, chunk):
        self.fed += chunk

    def end_file(self, name, size=None):
        self.calls.append(("end", name, size))


def send_then_drop(handler: Any, body: bytes) -> None:
    """Send ``body`` and cut the connection, as a link that breaks mid-file does."""
    handler.wfile.write(body)
    handler.wfile.flush()
    handler.connection.shutdown(socket.SHUT_RDWR)
    handler.close_connection = True
