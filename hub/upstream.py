"""Pass-through to another Hub (``HUB_UPSTREAM_URL``) for repositories the product does not hold,
so one ``HF_ENDPOINT`` serves the adapter and its base model (DESIGN §15). Off when unset.

* JSON (``/api/…``) and ``HEAD`` are asked upstream and answered with upstream's status, body and
  the headers the client reads; redirects that stay on the upstream host are followed here (as the
  client would), and ``Link``/``Location`` pointing at upstream are rewritten to point back here.
* A file ``GET`` is redirected to the same path upstream (the client fetches it from there).
* The client's ``Authorization`` is never sent upstream (it is our API token); ``HUB_UPSTREAM_TOKEN``
  is sent instead when set.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urljoin, urlsplit

import requests
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from hub.responses import hub_error

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_JSON_BYTES = 64 * 1024 * 1024
PASSED_HEADERS = (
    "Content-Type",
    "ETag",
    "X-Repo-Commit",
    "X-Linked-Etag",
    "X-Linked-Size",
    "X-Error-Code",
    "X-Error-Message",
    "Accept-Ranges",
    "Last-Modified",
)


def enabled() -> bool:
    return bool(settings.HUB_UPSTREAM_URL)


def _hub_prefix() -> str:
    """This site's path of the Hub root (``/hub/``)."""
    return reverse("hub-elsewhere", kwargs={"rest": ""})


def _relative(request: HttpRequest) -> str:
    """The request's path below the Hub root, percent-encoded again."""
    return quote(request.path[len(_hub_prefix()) :], safe="/")


def _headers() -> dict[str, str]:
    headers = {"Accept-Encoding": "identity", "User-Agent": "pipeline-hub-proxy"}
    if settings.HUB_UPSTREAM_TOKEN:
        headers["Authorization"] = f"Bearer {settings.HUB_UPSTREAM_TOKEN}"
    return headers


def _back_here(request: HttpRequest, url: str) -> str:
    """``url`` on the upstream host, as the same path below this site's Hub root."""
    base = settings.HUB_UPSTREAM_URL.rstrip("/")
    if url.startswith(base + "/"):
        return request.build_absolute_uri(_hub_prefix()) + url[len(base) + 1 :]
    return url


def _same_host(a: str, b: str) -> bool:
    return urlsplit(a)[:2] == urlsplit(b)[:2]


def forward(request: HttpRequest) -> HttpResponse | None:
    """Upstream's answer for this request, or None when no upstream is configured."""
    if not enabled():
        return None
    url = f"{settings.HUB_UPSTREAM_URL.rstrip('/')}/{_relative(request)}"
    is_api = _relative(request).startswith("api/")
    if request.method == "GET" and not is_api:
        query = request.META.get("QUERY_STRING", "")
        return HttpResponseRedirect(f"{url}?{query}" if query else url)
    try:
        answer = _ask(request.method or "GET", url, request.GET.urlencode())
    except requests.RequestException as exc:
        logger.warning("hub upstream %s failed: %s", url, exc)
        return hub_error(request, 502, "The upstream Hub did not answer.")
    return _relay(request, answer)


def _ask(method: str, url: str, query: str) -> requests.Response:
    """``HEAD``/``GET`` upstream, following redirects that stay on its host."""
    target = f"{url}?{query}" if query else url
    for _ in range(MAX_REDIRECTS):
        answer = requests.request(
            method,
            target,
            headers=_headers(),
            allow_redirects=False,
            timeout=settings.HUB_UPSTREAM_TIMEOUT,
            stream=True,
        )
        location = answer.headers.get("Location")
        if not (answer.is_redirect and location):
            return answer
        following = urljoin(target, location)
        if not _same_host(following, target):
            return answer
        answer.close()
        target = following
    return answer


def _relay(request: HttpRequest, answer: requests.Response) -> HttpResponse:
    body = b""
    if request.method != "HEAD":
        body = answer.raw.read(MAX_JSON_BYTES + 1, decode_content=True)
        if len(body) > MAX_JSON_BYTES:
            answer.close()
            return hub_error(request, 502, "The upstream Hub's answer is too large to pass on.")
    answer.close()
    response = HttpResponse(body, status=answer.status_code)
    for name in PASSED_HEADERS:
        if name in answer.headers:
            response[name] = answer.headers[name]
    if request.method == "HEAD" and "Content-Length" in answer.headers:
        response["Content-Length"] = answer.headers["Content-Length"]
    if "Location" in answer.headers:
        response["Location"] = _back_here(request, urljoin(answer.url, answer.headers["Location"]))
    if "Link" in answer.headers:
        response["Link"] = ", ".join(
            _rewrite_link(request, part) for part in answer.headers["Link"].split(",") if part.strip()
        )
    return response


def _rewrite_link(request: HttpRequest, part: str) -> str:
    """``<url>; rel="next"`` with the URL pointing back here."""
    text = part.strip()
    if text.startswith("<") and ">" in text:
        url, rest = text[1:].split(">", 1)
        return f"<{_back_here(request, url)}>{rest}"
    return text
