"""The one module that talks to the GPU cluster (DESIGN §5).

Everything the cluster returns is untrusted: the listing's JSON shape, every file name, every
URL, every size and checksum. Requests always carry connect and read timeouts. The bearer key is
sent only to the cluster API's own origin, never to a presigned URL on another host.

Every failure is a ``ClusterError`` whose class says what a retry can fix:

============== ====================================================== ===============================
class          raised for                                             what a retry does
============== ====================================================== ===============================
``RetryNow``   connection errors and timeouts; HTTP 5xx, 408, 425,    retried at once inside the
               429; a body cut short mid-transfer                     attempt (capped, jittered
                                                                      backoff; ``Retry-After``
                                                                      honoured), then handled as
                                                                      ``RetryLater``
``RetryLater`` HTTP 404 on the listing or a file (not published yet); the attempt ends and the job is
               an empty listing; HTTP 401/403 from a file host other  due again after the ingest's
               than the API (an expired presigned link: the next      backoff, up to
               attempt asks for fresh links); too many redirects;     ``ARTIFACT_MAX_ATTEMPTS``
               any other request failure                              attempts
``NeverRetry`` HTTP 401/403 from the cluster API's host ("the cluster the ingest fails at once and the
               refused our key"); any other 4xx; bad file names;      owner is told why
               non-http(s) URLs; a listing that is not JSON or has
               the wrong shape; a Content-Length or body length other
               than advertised; a checksum mismatch
============== ====================================================== ===============================

Storage refusing a key or a size (``artifacts.storage.seam.StorageRefused``) is a never-retry case too;
the ingest service treats it so.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

from pipeline.lib.text import first_unprintable

logger = logging.getLogger(__name__)

MAX_FILENAME_BYTES = 255
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
RETRY_NOW_STATUS = {408, 425, 429}
REFUSED_KEY_STATUS = {401, 403}


class ClusterError(Exception):
    """A failure talking to the cluster or in what it returned; the subclass says what a retry can fix."""

    response: requests.Response | None = None


class RetryNow(ClusterError):
    """A passing fault (the network, an overloaded server): trying again in a moment may succeed."""


class RetryLater(ClusterError):
    """The cluster is not ready (files not published yet, an expired link): a later attempt may succeed."""


class NeverRetry(ClusterError):
    """Bad input or a refusal that no retry can fix."""


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
        raise NeverRetry(f"File name {name!r} is not a string")
    shown = name.encode("unicode_escape").decode()[:80]
    if name in ("", ".", ".."):
        raise NeverRetry(f"Invalid file name {shown!r}: empty or a directory reference")
    for separator in ("/", "\\"):
        if separator in name:
            raise NeverRetry(f"Invalid file name {shown!r}: contains the path separator {separator!r}")
    # Control, format (e.g. U+202E right-to-left override), private, unassigned, line separators.
    ch = first_unprintable(name)
    if ch is not None:
        raise NeverRetry(f"Invalid file name {shown!r}: contains the control character U+{ord(ch):04X}")
    if not name.strip():
        raise NeverRetry(f"Invalid file name {shown!r}: blank")
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        raise NeverRetry(f"Invalid file name {shown!r}…: longer than {MAX_FILENAME_BYTES} bytes")
    return name


def validate_url(name: str, url: object) -> str:
    if not isinstance(url, str):
        raise NeverRetry(f"Download URL of {name!r} is not a string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NeverRetry(f"Download URL of {name!r} is not an http(s) URL")
    return url


def parse_listing(body: Any) -> ArtifactListing:
    if not isinstance(body, dict):
        raise NeverRetry("GPU cluster returned a listing that is not a JSON object")
    urls = body.get("download_urls")
    if urls is None or urls == {}:
        raise RetryLater("No artifact files available from GPU cluster")
    if not isinstance(urls, dict):
        raise NeverRetry("GPU cluster listing: download_urls is not an object")
    metadata = body.get("model_metadata") or {}
    if not isinstance(metadata, dict):
        raise NeverRetry("GPU cluster listing: model_metadata is not an object")
    described = metadata.get("files") or {}
    if not isinstance(described, dict):
        raise NeverRetry("GPU cluster listing: model_metadata.files is not an object")

    files = []
    for raw_name, raw_url in urls.items():
        name = validate_filename(raw_name)
        url = validate_url(name, raw_url)
        info = described.get(name) or {}
        if not isinstance(info, dict):
            raise NeverRetry(f"GPU cluster listing: metadata of {name!r} is not an object")
        size, sha = info.get("size"), info.get("sha256")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise NeverRetry(f"GPU cluster listing: size of {name!r} is not a non-negative integer")
        if sha is not None:
            if not isinstance(sha, str) or not SHA256_HEX.match(sha.lower()):
                raise NeverRetry(f"GPU cluster listing: sha256 of {name!r} is not 64 hex digits")
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


def _status_error(response: requests.Response, url: str, *, api_host: bool) -> ClusterError:
    """The error class for an HTTP error status, by what a retry can fix (see the module's table)."""
    status = response.status_code
    message = f"GPU cluster answered HTTP {status} for {urlsplit(url).path}"
    error: ClusterError
    if status >= 500 or status in RETRY_NOW_STATUS:
        error = RetryNow(message)
    elif status == 404:
        error = RetryLater(f"{message}: not published yet")
    elif status in REFUSED_KEY_STATUS and api_host:
        error = NeverRetry(f"{message}: the cluster refused our key (check GPU_CLUSTER_API_KEY)")
    elif status in REFUSED_KEY_STATUS:
        error = RetryLater(f"{message}: the download link was refused, probably expired")
    else:
        error = NeverRetry(message)
    error.response = response
    return error


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
        """Run ``call``; retry ``RetryNow`` errors a few times, then hand the last one on as ``RetryLater``."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except RetryNow as exc:
                if attempt == self.retries:
                    raise RetryLater(str(exc)) from exc
                delay = self._delay(attempt, exc.response)
                logger.warning("cluster %s failed (%s); retry %d in %.1fs", what, exc, attempt + 1, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _headers_for(self, url: str) -> dict[str, str]:
        if self.api_key and _origin(url) == _origin(self.base_url):
            return {"Authorization": f"Bearer {self.api_key}"}
        return {}

    def _request(
        self, url: str, *, stream: bool = False, redirects: int = 0, extra: dict[str, str] | None = None
    ) -> requests.Response:
        headers = {**(extra or {}), **self._headers_for(url)}
        try:
            response = self.session.get(
                url, headers=headers, timeout=self.timeout, stream=stream, allow_redirects=False
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryNow(f"cannot reach {urlsplit(url).netloc}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise RetryLater(f"request to {urlsplit(url).netloc} failed: {exc}") from exc
        if response.is_redirect:
            # Follow by hand so the Authorization header is re-decided for the new origin.
            location = response.headers.get("Location", "")
            response.close()
            if redirects >= 5:
                raise RetryLater(f"too many redirects from {urlsplit(url).netloc}")
            target = requests.compat.urljoin(url, location)
            validate_url("redirect", target)
            return self._request(target, stream=stream, redirects=redirects + 1, extra=extra)
        if response.status_code >= 400:
            response.close()
            raise _status_error(response, url, api_host=_origin(url) == _origin(self.base_url))
        return response

    # --- API -----------------------------------------------------------------------------------
    def get_listing(self, external_job_id: str) -> ArtifactListing:
        url = f"{self.base_url}/training/artifacts/{quote(external_job_id, safe='')}"

        def fetch() -> Any:
            response = self._request(url)
            try:
                return response.json()
            except ValueError:
                raise NeverRetry("GPU cluster returned a listing that is not JSON") from None

        return parse_listing(self.with_retries("listing", fetch))

    @contextmanager
    def open_file(self, remote: RemoteFile, headers: dict[str, str] | None = None) -> Iterator[requests.Response]:
        """The file's body as a stream; ``headers`` ask for a part of it (``Range``, ``If-Range``)."""
        response = self.file_response(remote, headers)
        try:
            yield response
        finally:
            response.close()

    def file_response(self, remote: RemoteFile, headers: dict[str, str] | None = None) -> requests.Response:
        """Like :meth:`open_file`, for a caller that closes the response itself."""
        return self._request(remote.url, stream=True, extra=headers)
