"""Exponential backoff with jitter for retrying connection errors and 5xx answers."""

from __future__ import annotations

import random
import time

import httpx

MAX_ATTEMPTS = 5
BASE_DELAY = 0.5
MAX_DELAY = 10.0

sleep = time.sleep  # replaced in tests so retries happen at once


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
