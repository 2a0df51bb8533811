"""HTTP server for the simulated GPU cluster (DESIGN §5).

* ``GET /training/artifacts/{external_job_id}`` (``Authorization: Bearer <key>``) lists the job's
  files as ``{"download_urls": {...}, "model_metadata": {..., "files": {name: {size, sha256}}}}``.
* ``GET|HEAD /files/{external_job_id}/{filename}?expires=..&signature=..`` serves one file; like a
  storage provider's presigned URL it needs no bearer key, only a valid, unexpired signature. It
  honours a single ``Range: bytes=...`` (206 with ``Content-Range``; 416 when unsatisfiable) and
  ``If-Range``, and sends ``Accept-Ranges`` and a strong ``ETag`` (the file's sha256).

``throttle_bytes_per_second`` caps every file response to that rate, per connection, so a
transfer can be caught in progress (a worker killed mid-file) or a slow link benchmarked.

Faults for tests and demos: ``latency`` (seconds before every answer), ``error_rate`` (share of
requests answered 503), and behaviours picked by words in the external job id:
``not-ready`` (404 listing), ``empty`` (no files), ``badjson`` (HTML instead of JSON),
``missing-file`` (one file 404s), ``corrupt`` (bytes differ from the advertised sha256),
``truncated`` (body shorter than Content-Length), ``flaky`` (each file 503s twice, then works),
``traversal`` (a ``../`` file name). Adapter faults (an untrained or NaN adapter, a cut header...)
are words too; ``files.py`` lists them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pipeline.simulator.files import AdapterSpec, Manifest, generate, spec_for_job

logger = logging.getLogger("pipeline.simulator")

JOB_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
URL_TTL = 3600
SEND_CHUNK = 64 * 1024
CORRUPT_OFFSET = 1024 * 1024 - 1  # the byte a ``corrupt`` job flips (or its last byte, if smaller)
BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the file does not have (answered 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) for one byte range; None for no Range header, or one this
    server ignores (multi-part or malformed), in which case the whole file is sent."""
    if not header:
        return None
    match = BYTE_RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # a suffix: the last N bytes
        if int(last) == 0:
            raise RangeNotSatisfiable
        return max(0, size - int(last)), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(int(last) + 1, size) if last else size


@dataclass
class SimulatorConfig:
    api_key: str
    cache_root: Path
    spec: AdapterSpec = field(default_factory=AdapterSpec)
    jobs: dict[str, AdapterSpec] = field(default_factory=dict)  # per-job adapters; others get ``spec``
    latency: float = 0.0
    error_rate: float = 0.0
    seed: int | None = None
    throttle_bytes_per_second: int = 0  # 0: as fast as the link goes


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: SimulatorConfig):
        super().__init__(address, SimulatorHandler)
        self.config = config
        self.random = random.Random(config.seed)
        self.hits: Counter[str] = Counter()
        self.hits_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def count(self, key: str) -> int:
        with self.hits_lock:
            self.hits[key] += 1
            return self.hits[key]

    def sign(self, job_id: str, filename: str, expires: int) -> str:
        message = f"{job_id}/{filename}/{expires}".encode()
        return hmac.new(self.config.api_key.encode() or b"-", message, hashlib.sha256).hexdigest()

    def spec_for(self, job_id: str) -> AdapterSpec:
        """The adapter this job trained: its registered spec (or the default) plus any fault in its id."""
        return spec_for_job(job_id, self.config.jobs.get(job_id, self.config.spec))

    def manifest(self, job_id: str) -> Manifest:
        return generate(self.config.cache_root, job_id, self.spec_for(job_id))


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as production HTTP servers set it (nginx ``tcp_nodelay on`` by default): the
    # headers and the body go out in separate writes, and with Nagle's algorithm on the body of a
    # small answer waits for the ACK of the headers, which the client delays by ~40 ms (Linux
    # delayed ACK). Every small file and the listing would cost that much. nginx:
    # https://nginx.org/en/docs/http/ngx_http_core_module.html#tcp_nodelay; ``socketserver``:
    # https://docs.python.org/3/library/socketserver.html (StreamRequestHandler.disable_nagle_algorithm).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # route through logging
        logger.info("%s %s", self.address_string(), format % args)

    # --- helpers ----------------------------------------------------------------------------
    def _json(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _faults(self) -> bool:
        """Apply global faults; True when the request was answered with an injected error."""
        config = self.server.config
        if config.latency:
            time.sleep(config.latency)
        if config.error_rate and self.server.random.random() < config.error_rate:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "injected fault"})
            return True
        return False

    # --- routes -------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if segments == ["health"]:
            self._json(200, {"ok": True})
            return
        if self._faults():
            return
        if len(segments) == 3 and segments[:2] == ["training", "artifacts"]:
            self._listing(segments[2])
        elif len(segments) == 3 and segments[0] == "files":
            self._file(segments[1], segments[2], parse_qs(parts.query))
        else:
            self._json(404, {"error": "Not found"})

    def _listing(self, job_id: str) -> None:
        expected = f"Bearer {self.server.config.api_key}"
        if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
            self._json(401, {"error": "Invalid or missing API key"})
            return
        if not JOB_ID.match(job_id) or "not-ready" in job_id:
            self._json(404, {"error": f"No finished job {job_id!r}"})
            return
        if "badjson" in job_id:
            body = b"<html><body>502 Bad Gateway</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if "empty" in job_id:
            self._json(200, {"download_urls": {}, "model_metadata": {}})
            return
        manifest = self.server.manifest(job_id)
        base = f"http://{self.headers.get('Host') or self.server.base_url.removeprefix('http://')}"
        expires = int(time.time()) + URL_TTL
        names = list(manifest.files)
        if "traversal" in job_id:
            names.append("../../etc/passwd")
        urls = {
            name: (
                f"{base}/files/{quote(job_id)}/{quote(name, safe='')}"
                f"?expires={expires}&signature={self.server.sign(job_id, name, expires)}"
            )
            for name in names
        }
        spec = self.server.spec_for(job_id)
        self._json(
            200,
            {
                "download_urls": urls,
                "model_metadata": {
                    "format": "peft-lora",
                    "base_model": spec.base_model,
                    "rank": spec.rank,
                    "lora_alpha": spec.lora_alpha,
                    "target_modules": list(spec.target_modules),
                    "num_layers": spec.num_layers,
                    "files": {n: {"size": f.size, "sha256": f.sha256} for n, f in manifest.files.items()},
                },
            },
        )

    def _file(self, job_id: str, filename: str, query: dict[str, list[str]]) -> None:
        try:
            expires = int(query.get("expires", ["0"])[0])
        except ValueError:
            expires = 0
        signature = query.get("signature", [""])[0]
        if expires < time.time() or not hmac.compare_digest(signature, self.server.sign(job_id, filename, expires)):
            self._json(403, {"error": "Signature invalid or expired"})
            return
        if "flaky" in job_id and self.server.count(f"{job_id}/{filename}") <= 2:
            self._json(503, {"error": "Temporarily unavailable"})
            return
        if "missing-file" in job_id and filename == "tokenizer_config.json":
            self._json(404, {"error": "File not found"})
            return
        entry = self.server.manifest(job_id).files.get(filename)
        if entry is None:
            self._json(404, {"error": "File not found"})
            return
        etag = f'"{entry.sha256}"'
        try:
            wanted = parse_range(self.headers.get("Range"), entry.size)
        except RangeNotSatisfiable:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{entry.size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if_range = self.headers.get("If-Range")
        if wanted and if_range is not None and if_range.strip() != etag:
            wanted = None  # the client's copy is of another version: send the whole file
        start, end = wanted or (0, entry.size)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if wanted else HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{entry.size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        if "truncated" in job_id:
            end = start + (end - start) // 2
            self.close_connection = True
        corrupt = None
        if "corrupt" in job_id and filename == "adapter_model.safetensors":
            corrupt = min(CORRUPT_OFFSET, entry.size - 1)
        with entry.path.open("rb") as handle:
            self._send_body(handle, start, end, corrupt)

    def _send_body(self, handle: BinaryIO, start: int, end: int, corrupt: int | None) -> None:
        """Send bytes [start, end) of the file, flipping byte ``corrupt``, at most at the throttle rate."""
        rate = self.server.config.throttle_bytes_per_second
        if not rate and corrupt is None:
            self.wfile.flush()
            if end > start:
                self.connection.sendfile(handle, offset=start, count=end - start)
            return
        chunk_size = min(SEND_CHUNK, max(1024, rate // 20)) if rate else SEND_CHUNK
        began = time.monotonic()
        handle.seek(start)
        sent = 0
        position = start
        while position < end:
            data = handle.read(min(chunk_size, end - position))
            if not data:
                break
            if corrupt is not None and position <= corrupt < position + len(data):
                flipped = bytearray(data)
                flipped[corrupt - position] ^= 0xFF
                data = bytes(flipped)
            self.wfile.write(data)
            position += len(data)
            sent += len(data)
            if rate:
                ahead = began + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        self.wfile.flush()


def serve_in_thread(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Start a simulator on a background thread (tests, benchmarks); stop it with ``shutdown()``."""
    server = SimulatorServer((host, port), config)
    thread = threading.Thread(target=server.serve_forever, name="cluster-simulator", daemon=True)
    thread.start()
    return server
