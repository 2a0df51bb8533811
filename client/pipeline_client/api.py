"""The PIPELINE JSON API, spoken over httpx with a bearer token, timeouts and retries.

Connection errors and 5xx answers are retried with backoff. A rate limit (429) is sat out only
when it is short (:mod:`pipeline_client.retry`); a longer one is reported at once with its wait.
Any other error becomes an :class:`~pipeline_client.errors.ApiError` whose message is the
server's own ``{"error": ...}`` text, or a sentence saying what answered instead of the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from pipeline_client import __version__, retry
from pipeline_client.config import TOKEN_HELP, Login
from pipeline_client.errors import ApiError, ClientError

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def user_agent() -> str:
    return f"pipeline-client/{__version__}"


def envelope_error(response: httpx.Response) -> str | None:
    """The ``error`` of the API's error envelope, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return None


def error_text(response: httpx.Response) -> str:
    """The server's ``error`` message, or the bare status when the body is not the API's envelope."""
    return envelope_error(response) or response.reason_phrase or "error"


def media_type(response: httpx.Response) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def is_html(response: httpx.Response) -> bool:
    """A web page: labelled as one, or starting like one whatever its label says."""
    if media_type(response) in ("text/html", "application/xhtml+xml"):
        return True
    start = response.content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


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
        """One API call, retried on connection errors, 5xx and short 429s; other answers are returned."""
        failures = 0
        throttle = retry.Throttle()
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                failures += 1
                if failures >= retry.MAX_ATTEMPTS:
                    raise ClientError(f"cannot reach {self.url}: {retry.describe(exc)}") from None
                retry.wait_before_retry(failures)
                continue
            if response.status_code == 429:
                seconds = throttle.quiet_wait(retry.throttle_wait(response))
                if seconds is None:
                    return response  # a long wait: reported now, not slept through
                retry.sleep(seconds)
                continue
            if response.status_code >= 500:
                failures += 1
                if failures >= retry.MAX_ATTEMPTS:
                    return response
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
            raise ClientError(self.not_the_api(response)) from None
        if not isinstance(body, dict) or "data" not in body:
            raise ClientError(
                f"{self.address(response)} answered JSON of an unexpected shape, not the PIPELINE API; "
                f"is {self.url} the server's address?"
            )
        return body["data"]

    def address(self, response: httpx.Response) -> str:
        """The URL that answered, without its query."""
        return str(response.request.url.copy_with(query=None, fragment=None))

    def not_the_api(self, response: httpx.Response) -> str:
        """A sentence saying what answered instead of the API's JSON."""
        status = "" if response.status_code == 200 else f" (HTTP {response.status_code})"
        if is_html(response):
            what = "an HTML page"
        elif not response.content.strip():
            what = "an empty body"
        else:
            what = f"{media_type(response) or 'an unlabelled body'}"
        return (
            f"{self.address(response)} answered with {what}{status}, not the PIPELINE API; "
            f"is {self.url} the server's address?"
        )

    def raise_for_status(self, response: httpx.Response, what: str = "") -> None:
        status = response.status_code
        if status < 300:
            return
        prefix = f"{what}: " if what else ""
        if 300 <= status < 400:
            location = response.headers.get("Location", "another address")
            raise ApiError(f"{prefix}the server redirects to {location}; log in with that address", status)
        if status == 429:
            raise ApiError(retry.throttled_message(response, "the server"), status)
        if envelope_error(response) is None and status < 500 and is_html(response):
            raise ApiError(self.not_the_api(response), status)
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

    def list_models(self, *, page: int, limit: int, sort: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """A page of the list; ``filters`` are the API's query parameters (``q``, ``min_score``, ...)."""
        params = {"page": page, "limit": limit, "sort": sort, **(filters or {})}
        data = self.json("GET", "/api/models", params=params)
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
