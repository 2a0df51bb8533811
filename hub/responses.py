"""What every Hub answer shares: errors as the Hub's clients read them, and its timestamps.

The client (``huggingface_hub.utils.hf_raise_for_status``) picks its exception from the status and
``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) and shows
``X-Error-Message``; a JSON body ``{"error": ...}`` is its fallback, so every error carries both.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse, JsonResponse

REPO_NOT_FOUND = "RepoNotFound"
REVISION_NOT_FOUND = "RevisionNotFound"
ENTRY_NOT_FOUND = "EntryNotFound"
# The Hub's message for a token it does not know: the client then raises a plain HTTP error, not
# "repository not found".
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def header_text(text: str) -> str:
    """A header value: printable ASCII only (anything else becomes ``?``), one line, bounded."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:300]


def hub_error(request: HttpRequest, status: int, message: str, code: str | None = None) -> HttpResponse:
    response: HttpResponse
    if request.method == "HEAD":
        response = HttpResponse(status=status)
    else:
        response = JsonResponse({"error": message}, status=status)
    if code:
        response["X-Error-Code"] = code
    response["X-Error-Message"] = header_text(message)
    return response


def repo_not_found(request: HttpRequest, repo_id: str, *, authenticated: bool) -> HttpResponse:
    """Missing and someone else's look the same; without credentials the Hub answers 401."""
    message = f"Repository not found: {repo_id}"
    return hub_error(request, 404 if authenticated else 401, message, REPO_NOT_FOUND)


def hub_time(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``: the one form the client parses."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
