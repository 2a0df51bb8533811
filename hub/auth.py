"""Who asks: the product's API token as ``HF_TOKEN`` (``Authorization: Bearer <token>``), or the
browser's session. The token is checked by the same code as the API's (``accounts``), bad-token
throttling included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from rest_framework import exceptions

from accounts.authentication import BearerTokenAuthentication


@dataclass(frozen=True)
class Caller:
    user: Any = None
    token: Any = None

    @property
    def authenticated(self) -> bool:
        return self.user is not None


class BadCredentials(Exception):
    """A bearer token was sent and is not valid; ``wait`` is set when the address is throttled."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


def sends_bearer(request: HttpRequest) -> bool:
    return request.headers.get("Authorization", "").split(" ", 1)[0].lower() == "bearer"


def caller(request: HttpRequest) -> Caller:
    """The user behind the request; ``Caller()`` for nobody. Raises :class:`BadCredentials`."""
    try:
        found = BearerTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except exceptions.Throttled as exc:
        raise BadCredentials(str(exc.detail), wait=getattr(exc, "wait", None) or 60.0) from None
    except exceptions.AuthenticationFailed as exc:
        raise BadCredentials(str(exc.detail)) from None
    if found is not None:
        return Caller(user=found[0], token=found[1])
    session_user = getattr(request, "user", None)
    if session_user is not None and session_user.is_authenticated:
        return Caller(user=session_user)
    return Caller()
