"""The PIPELINE JSON API, spoken over httpx with a bearer token, timeouts and retries.

Connection errors and 5xx answers are retried with backoff; ``429`` waits as long as the server
asks (within reason). Any other error becomes an :class:`~pipeline_client.errors.ApiError` whose
message is the server's own ``{"error": ...}`` text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from pipeline_client import __version__, retry
from pipeline_client.config import TOKEN_HELP, Login
from pipeline_client.errors import ApiError, ClientError

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_THROTTLE_WAIT = 60.0


def user_agent() -> str:
    return f"pipeline-client/{__version__}"


def error_text(response: httpx.Response) -> str:
    """The server's ``error`` message, or the bare status when the body is not the API's envelope."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return response.reason_phrase or "error"


def retry_after(response: httpx.Response) -> float:
    try:
        details = response.json().get("details") or {}
        seconds = float(details.get("retry_after_seconds", 0))
    except (ValueError, AttributeError, TypeError):
        seconds = 0.0
    if not seconds:
        try:
            seconds = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            seconds = 1.0
    return min(max(seconds, 1.0), MAX_THROTTLE_WAIT)


class Api:
    def __init__(self, login: Login, transport: httpx.BaseTransport | None = None):
        self.url = login.url
        self.http = httpx.Client(
            base_url=login.url,
            headers={"Authorization": f"Bearer {login.token}", "User-Agent": user_agent()},
            timeout=TIMEOUT,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call, retried on connection errors, 5xx and 429; other answers are returned."""
        failures = 0
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                failures += 1
                if failures >= retry.MAX_ATTEMPTS:
                    raise ClientError(f"cannot reach {self.url}: {retry.describe(exc)}") from None
                retry.wait_before_retry(failures)
                continue
            if response.status_code >= 500 or response.status_code == 429:
                failures += 1
                if failures >= retry.MAX_ATTEMPTS:
                    return response
                if response.status_code == 429:
                    retry.sleep(retry_after(response))
                else:
                    retry.wait_before_retry(failures)
                continue
            return response

    def json(self, method: str, path: str, *, what: str = "", **kwargs: Any) -> Any:
        """The ``data`` of a successful envelope; errors become one-line :class:`ApiError`."""
        response = self.request(method, path, headers={"Accept": "application/json"}, **kwargs)
        self.raise_for_status(response, what)
        try:
            body = response.json()
        except ValueError:
            raise ClientError(f"{self.url}{path} did not answer JSON; is {self.url} a PIPELINE server?") from None
        if not isinstance(body, dict) or "data" not in body:
            raise ClientError(f"{self.url}{path} answered an unexpected shape; is {self.url} a PIPELINE server?")
        return body["data"]

    def raise_for_status(self, response: httpx.Response, what: str = "") -> None:
        status = response.status_code
        if status < 300:
            return
        prefix = f"{what}: " if what else ""
        if 300 <= status < 400:
            location = response.headers.get("Location", "another address")
            raise ApiError(f"{prefix}the server redirects to {location}; log in with that address", status)
        if status == 401:
            raise ApiError(
                f"the server rejected the token ({error_text(response)}). "
                + TOKEN_HELP.format(url=self.url)
                + " Then run `pipeline login`.",
                status,
            )
        raise ApiError(f"{prefix}{error_text(response)} (HTTP {status})", status)

    # --- endpoints ------------------------------------------------------------------------------
    def check_login(self) -> None:
        """Cheapest authenticated call: proves the URL is a PIPELINE server and the token works."""
        self.json("GET", "/api/models", params={"limit": 1})

    def list_models(self, *, page: int, limit: int, sort: str) -> dict[str, Any]:
        data = self.json("GET", "/api/models", params={"page": page, "limit": limit, "sort": sort})
        return dict(data)

    def get_model(self, model_id: str) -> dict[str, Any]:
        return dict(self.json("GET", model_path(model_id), what=f"model {model_id}"))

    def grant(self, model_id: str, files: list[str]) -> tuple[dict[str, str], str]:
        """Signed URLs for ``files`` (name → URL) and when they expire."""
        data = self.json("POST", f"{model_path(model_id)}/download", json={"files": files}, what=f"model {model_id}")
        urls = data.get("download_urls") if isinstance(data, dict) else None
        if not isinstance(urls, dict):
            raise ClientError("the server's download answer has no download_urls")
        return {str(name): str(url) for name, url in urls.items()}, str(data.get("expires_at", ""))

    def text(self, path: str) -> str | None:
        """A plain-text resource, or None when the server has none (404)."""
        response = self.request("GET", path, headers={"Accept": "text/plain, text/markdown"})
        if response.status_code == 404:
            return None
        self.raise_for_status(response)
        return response.text

    def sha256sums(self, model_id: str) -> str | None:
        return self.text(f"{model_path(model_id)}/sha256sums")

    def card(self, model_id: str) -> str | None:
        return self.text(f"{model_path(model_id)}/card")


def model_path(model_id: str) -> str:
    return f"/api/models/{quote(model_id.strip(), safe='')}"
