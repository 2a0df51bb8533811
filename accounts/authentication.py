"""``Authorization: Bearer <token>`` authentication for API clients and scripts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken
from accounts.throttling import BadTokenCounter

# The token was checked and is not valid; a valid token from the same address is still served.
TOO_MANY_BAD_TOKENS = "Too many invalid API tokens from this address. This one is not valid either."


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        try:
            token = self._token(header)  # first: a valid token is served even from a blocked address
        except exceptions.AuthenticationFailed:
            wait = BadTokenCounter(request).record_failure()
            if wait is not None:
                raise exceptions.Throttled(wait=wait, detail=TOO_MANY_BAD_TOKENS) from None
            raise
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def _token(self, header: list[bytes]) -> ApiToken:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = ApiToken.objects.authenticate(raw)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
