"""``/status``: is the database, the broker and the artifact storage reachable?"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    from pipeline.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


STORAGE_PROBE_SECONDS = 10.0
_storage_probes: dict[int, float] = {}  # storage object id -> when its write probe last passed


def check_storage() -> None:
    """Write, read back and delete a probe object — at most every 10 s per process, since
    ``/status`` is public and each probe is a paid PUT + GET + DELETE on S3."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    storage = storages["artifacts"]
    passed = _storage_probes.get(id(storage))
    if passed is not None and 0 <= time.time() - passed < STORAGE_PROBE_SECONDS:
        return
    probe = f".healthcheck/{uuid.uuid4().hex}"
    storage.save(probe, ContentFile(b"ok"))
    try:
        with storage.open(probe) as handle:
            if handle.read() != b"ok":
                raise RuntimeError("storage returned different bytes than were written")
    finally:
        storage.delete(probe)
    _storage_probes[id(storage)] = time.time()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


@never_cache
@require_GET
def status(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, object]] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # every failure is reported, none crashes the endpoint
            healthy = False
            logger.warning("status check %s failed: %s", name, exc)
            detail = str(exc) if settings.DEBUG else type(exc).__name__
            results[name] = {"ok": False, "error": detail}
        else:
            results[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results}, status=200 if healthy else 503
    )
