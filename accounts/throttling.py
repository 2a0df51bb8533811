"""Make guessing slow: failed logins (django-axes) and bad API tokens (a counter in the cache).

Both count per client address, taken the same way (:func:`client_address`), so a proxy setting
means the same thing to each. Logins also count per username; tokens do not, because a token's
visible prefix is no secret and counting on it would let anyone lock a script out.
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle


def client_address(request: Any) -> str:
    """The client's address: ``REMOTE_ADDR``, or ``X-Forwarded-For`` as written by our own proxies.

    How many proxies to trust is DRF's ``NUM_PROXIES`` (``TRUSTED_PROXY_COUNT``), so the download
    throttle and these counters agree. An IPv6 client owns a whole /64, so it counts as one.
    """
    raw = BaseThrottle().get_ident(request) or ""
    for candidate in (raw, request.META.get("REMOTE_ADDR", "")):
        try:
            address = ipaddress.ip_address(candidate.strip())
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
        return str(address)
    return "0.0.0.0"  # noqa: S104 (a bucket for unparsable addresses, not a bind address)


# --- Logins -----------------------------------------------------------------------------------------


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler, with a narrower "reset on success".

    Axes would forget every failure of the username *and* every failure from the address. Then one
    account of their own lets an attacker clear their address's count between guesses at other
    accounts. A successful login here forgets only what this client did to this account.
    """

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        address = getattr(request, "axes_ip_address", None)
        count, _ = AccessAttempt.objects.filter(username=username, ip_address=address).delete()
        return count


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The 429 page for a locked-out login (the login page's and the admin's)."""
    minutes = settings.LOGIN_COOLOFF_MINUTES
    response = render(request, "accounts/lockout.html", {"cooloff_minutes": minutes}, status=429)
    # Every attempt while locked out restarts the cool-off, so the full period is the honest wait.
    response["Retry-After"] = str(minutes * 60)
    return response


# --- API tokens -------------------------------------------------------------------------------------


class BadTokenCounter:
    """Failed bearer-token attempts from one client address, in the shared cache.

    ``API_TOKEN_FAILURE_LIMIT`` failures within ``API_TOKEN_COOLOFF_MINUTES`` block the address for
    ``API_TOKEN_COOLOFF_MINUTES``: from then on a bad token from it answers 429 instead of 401, and
    each one starts the block over, so an address that keeps guessing never gets out of it.

    The block slows bad tokens only. A token is checked before the block is looked at, and a valid
    one is always served: the clients behind one address (an office's NAT, a pool of CI runners)
    share it, and one of them sending bad tokens must not lock the others out. Serving valid tokens
    means a guesser learns, one request at a time, whether a guess was right; a token holds 256
    random bits, so that answer is no shortcut, and every wrong guess still counts.
    """

    def __init__(self, request: Any) -> None:
        address = client_address(request)
        self.count_key = f"accounts:bad-token:count:{address}"
        self.block_key = f"accounts:bad-token:blocked:{address}"
        self.limit: int = settings.API_TOKEN_FAILURE_LIMIT
        self.cooloff: int = settings.API_TOKEN_COOLOFF_MINUTES * 60

    def retry_after(self) -> int | None:
        """Seconds until a bad token from this address answers 401 again, or None when it does now."""
        blocked_until = cache.get(self.block_key)
        if blocked_until is None:
            return None
        wait = math.ceil(blocked_until - time.time())
        return wait if wait > 0 else None

    def record_failure(self) -> int | None:
        """Count one failure; return the wait when the address is blocked (by this one or before)."""
        if self.retry_after() is not None:
            return self._block()  # still guessing: the block starts over
        cache.add(self.count_key, 0, timeout=self.cooloff)
        try:
            failures = cache.incr(self.count_key)  # atomic on Redis: concurrent guesses all count
        except ValueError:  # expired between add and incr
            cache.set(self.count_key, 1, timeout=self.cooloff)
            failures = 1
        if failures < self.limit:
            return None
        cache.delete(self.count_key)
        return self._block()

    def _block(self) -> int:
        cache.set(self.block_key, time.time() + self.cooloff, timeout=self.cooloff)
        return self.cooloff
