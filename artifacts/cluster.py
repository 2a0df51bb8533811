"""The one module that talks to the GPU cluster (DESIGN §5).

Everything the cluster returns is untrusted: the listing's JSON shape, every file name, every
URL, every size and checksum. Requests always carry connect and read timeouts; transient
failures (connection errors, timeouts, 5xx, 429) are retried a few times with capped,
jittered backoff honouring ``Retry-After``; any other 4xx is permanent. The bearer key is sent
only to the cluster API's own origin, never to a presigned URL on another host.
"""

from __future__ import annotations

import logging
import random
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_FILENAME_BYTES = 255
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class ClusterError(Exception):
    """A failure talking to the cluster or in what it returned.

    ``transient`` errors may succeed if tried again; ``permanent`` ones are bad input that
    retrying cannot fix (a traversal file name, a non-HTTP URL, a listing of the wrong shape).
    """

    def __init__(self, message: str, *, transient: bool = False, permanent: bool = False):
        super().__init__(message)
        self.transient = transient
        self.permanent = permanent


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    size: int | None = None
    sha256: str | None = None


@dataclass
class ArtifactListing:
    files: list[RemoteFile]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


def validate_filename(name: object) -> str:
    """Accept a plain file name; reject anything that could escape ``{user}/{artifact}/``."""
    if not isinstance(name, str):
        raise ClusterError(f"File name {name!r} is not a string", permanent=True)
    shown = name.encode("unicode_escape").decode()[:80]
    if name in ("", ".", ".."):
        raise ClusterError(f"Invalid file name {shown!r}: empty or a directory reference", permanent=True)
    if "/" in name or "\\" in name:
        raise ClusterError(f"Invalid file name {shown!r}: contains a path separator", permanent=True)
    # Category C: control, format (e.g. U+202E right-to-left override), surrogate, private, unassigned.
    if any(unicodedata.category(ch).startswith("C") or ch in "\u2028\u2029" for ch in name):
        raise ClusterError(f"Invalid file name {shown!r}: contains a control character", permanent=True)
    if not name.strip():
        raise ClusterError(f"Invalid file name {shown!r}: blank", permanent=True)
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        raise ClusterError(f"Invalid file name {shown!r}…: longer than {MAX_FILENAME_BYTES} bytes", permanent=True)
    return name


def validate_url(name: str, url: object) -> str:
    if not isinstance(url, str):
        raise ClusterError(f"Download URL of {name!r} is not a string", permanent=True)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClusterError(f"Download URL of {name!r} is not an http(s) URL", permanent=True)
    return url


def parse_listing(body: Any) -> ArtifactListing:
    if not isinstance(body, dict):
        raise ClusterError("GPU cluster returned a listing that is not a JSON object", permanent=True)
    urls = body.get("download_urls")
    if urls is None or urls == {}:
        raise ClusterError("No artifact files available from GPU cluster")
    if not isinstance(urls, dict):
        raise ClusterError("GPU cluster listing: download_urls is not an object", permanent=True)
    metadata = body.get("model_metadata") or {}
    if not isinstance(metadata, dict):
        raise ClusterError("GPU cluster listing: model_metadata is not an object", permanent=True)
    described = metadata.get("files") or {}
    if not isinstance(described, dict):
        raise ClusterError("GPU cluster listing: model_metadata.files is not an object", permanent=True)

    files = []
    for raw_name, raw_url in urls.items():
        name = validate_filename(raw_name)
        url = validate_url(name, raw_url)
        info = described.get(name) or {}
        if not isinstance(info, dict):
            raise ClusterError(f"GPU cluster listing: metadata of {name!r} is not an object", permanent=True)
        size, sha = info.get("size"), info.get("sha256")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ClusterError(f"GPU cluster listing: size of {name!r} is not a non-negative integer", permanent=True)
        if sha is not None:
            if not isinstance(sha, str) or not SHA256_HEX.match(sha.lower()):
                raise ClusterError(f"GPU cluster listing: sha256 of {name!r} is not 64 hex digits", permanent=True)
            sha = sha.lower()
        files.append(RemoteFile(name=name, url=url, size=size, sha256=sha))
    return ArtifactListing(files=files, metadata={k: v for k, v in metadata.items() if k != "files"})


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class ClusterClient:
    retries = 3  # extra tries after the first, inside one ingest attempt
    backoff_base = 1.0
    backoff_cap = 30.0
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        read_timeout: float | None = None,
        connect_timeout: float | None = None,
        session: requests.Session | None = None,
    ):
        self.base_url = (base_url or settings.GPU_CLUSTER_API_URL).rstrip("/")
        self.api_key = settings.GPU_CLUSTER_API_KEY if api_key is None else api_key
        self.timeout = (
            connect_timeout or settings.GPU_CLUSTER_CONNECT_TIMEOUT,
            read_timeout or settings.GPU_CLUSTER_TIMEOUT,
        )
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxy or .netrc credentials picked up from the host

    # --- retries -------------------------------------------------------------------------------
    def _delay(self, attempt: int, response: requests.Response | None = None) -> float:
        hinted = _retry_after_seconds(response) if response is not None else None
        backoff = self.backoff_base * (2**attempt) * (0.5 + random.random() / 2)  # noqa: S311 (jitter)
        return min(self.backoff_cap, hinted if hinted is not None else backoff)

    def with_retries(self, what: str, call: Callable[[], Any]) -> Any:
        """Run ``call``; retry transient ClusterErrors a few times, re-raise the last one."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except ClusterError as exc:
                if not exc.transient or attempt == self.retries:
                    raise
                delay = self._delay(attempt, getattr(exc, "response", None))
                logger.warning("cluster %s failed (%s); retry %d in %.1fs", what, exc, attempt + 1, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _headers_for(self, url: str) -> dict[str, str]:
        if self.api_key and _origin(url) == _origin(self.base_url):
            return {"Authorization": f"Bearer {self.api_key}"}
        return {}

    def _request(self, url: str, *, stream: bool = False, redirects: int = 0) -> requests.Response:
        try:
            response = self.session.get(
                url, headers=self._headers_for(url), timeout=self.timeout, stream=stream, allow_redirects=False
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ClusterError(f"cannot reach {urlsplit(url).netloc}: {type(exc).__name__}", transient=True) from exc
        except requests.RequestException as exc:
            raise ClusterError(f"request to {urlsplit(url).netloc} failed: {exc}") from exc
        if response.is_redirect:
            # Follow by hand so the Authorization header is re-decided for the new origin.
            location = response.headers.get("Location", "")
            response.close()
            if redirects >= 5:
                raise ClusterError(f"too many redirects from {urlsplit(url).netloc}")
            target = requests.compat.urljoin(url, location)
            validate_url("redirect", target)
            return self._request(target, stream=stream, redirects=redirects + 1)
        if response.status_code >= 400:
            status = response.status_code
            response.close()
            error = ClusterError(
                f"GPU cluster answered HTTP {status} for {urlsplit(url).path}",
                transient=status in TRANSIENT_STATUS or status >= 500,
            )
            error.response = response  # type: ignore[attr-defined]
            raise error
        return response

    # --- API -----------------------------------------------------------------------------------
    def get_listing(self, external_job_id: str) -> ArtifactListing:
        url = f"{self.base_url}/training/artifacts/{quote(external_job_id, safe='')}"

        def fetch() -> Any:
            response = self._request(url)
            try:
                return response.json()
            except ValueError:
                raise ClusterError("GPU cluster returned a listing that is not JSON", permanent=True) from None

        return parse_listing(self.with_retries("listing", fetch))

    @contextmanager
    def open_file(self, remote: RemoteFile) -> Iterator[requests.Response]:
        response = self._request(remote.url, stream=True)
        try:
            yield response
        finally:
            response.close()
