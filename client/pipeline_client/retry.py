"""Retrying: backoff with jitter for connection errors and 5xx, and the rule for rate limits.

A rate limit (HTTP 429) is sat out quietly only when it is short: each wait at most
``QUIET_WAIT`` seconds and all of them together at most ``QUIET_TOTAL``. A longer one (a lockout
after bad tokens lasts minutes) is reported at once with the server's wait, never slept through.
"""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from pipeline_client.units import human_wait

MAX_ATTEMPTS = 5
BASE_DELAY = 0.5
MAX_DELAY = 10.0
QUIET_WAIT = 3.0
QUIET_TOTAL = 10.0
UNKNOWN_WAIT = 1.0  # a 429 that does not say how long: try again after this, within the budget

sleep = time.sleep  # replaced in tests so retries happen at once

# A throttle's message may end with its own "Expected available in N seconds." (DRF) or "Try again
# in N seconds."; the CLI states the wait once, its own way.
_STATED_WAIT = re.compile(r"\s*(?:Expected available|Try again) in \d+ seconds?\.?\s*$", re.IGNORECASE)


def backoff_delay(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failure in a row (1, 2, …): doubling, capped, jittered."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** max(failures - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def wait_before_retry(failures: int) -> None:
    sleep(backoff_delay(failures))


def describe(exc: httpx.HTTPError) -> str:
    """A short, human reason for a transport error ("connection refused", "timed out", …)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc) or "cannot connect"
        return text.split("] ", 1)[-1]  # "[Errno 111] Connection refused" -> "Connection refused"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed before the transfer finished"
    return str(exc) or type(exc).__name__


def throttle_wait(response: httpx.Response) -> float | None:
    """Seconds a 429 asks to wait: the envelope's ``details.retry_after_seconds``, else the
    ``Retry-After`` header (seconds or an HTTP date); None when the answer does not say."""
    try:
        body = response.json()
    except ValueError:
        body = None
    details = body.get("details") if isinstance(body, dict) else None
    if isinstance(details, dict):
        value = details.get("retry_after_seconds")
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    header = response.headers.get("Retry-After", "").strip()
    if not header:
        return None
    try:
        return max(float(header), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class Throttle:
    """The quiet-wait budget of one request or one file transfer."""

    def __init__(self) -> None:
        self.waited = 0.0
        self.tries = 0

    def quiet_wait(self, wait: float | None) -> float | None:
        """The seconds to sleep before trying again, or None when the wait must be reported."""
        seconds = UNKNOWN_WAIT if wait is None else max(wait, 0.1)
        if seconds > QUIET_WAIT or self.waited + seconds > QUIET_TOTAL or self.tries >= MAX_ATTEMPTS:
            return None
        self.waited += seconds
        self.tries += 1
        return seconds


def throttled_message(response: httpx.Response, who: str) -> str:
    """``"<who> is limiting requests (<the server's reason>); try again in 14 min 32 s"``."""
    wait = throttle_wait(response)
    reason = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        reason = _STATED_WAIT.sub("", body["error"]).strip().rstrip(".")
        if len(reason) > 1 and reason[0].isupper() and reason[1].islower():
            reason = reason[0].lower() + reason[1:]
    when = "try again later" if wait is None else f"try again in {human_wait(wait)}"
    return f"{who} is limiting requests ({reason or 'HTTP 429'}); {when}"
