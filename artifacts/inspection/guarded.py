"""Inspection during ingest must never cost the user the files: a bug here is logged, not raised.

The ingest stores what the cluster produced whatever inspection thinks of it; if inspecting
itself fails, the artifact is stored with ``inspection`` null (``inspect_artifacts`` can retry).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from artifacts.inspection.inspector import AdapterInspector

logger = logging.getLogger(__name__)


class GuardedInspector:
    """An :class:`AdapterInspector` that turns off, instead of failing the transfer, on an exception."""

    def __init__(self) -> None:
        self.inner: AdapterInspector | None = AdapterInspector()

    def _failed(self, where: str) -> None:
        logger.exception("adapter inspection failed in %s; the artifact is stored without it", where)
        self.inner = None

    def start_file(self, name: str, expected_size: int | None = None) -> None:
        if self.inner is not None:
            try:
                self.inner.start_file(name, expected_size)
            except Exception:
                self._failed("start_file")

    def feed(self, name: str, chunk: bytes) -> None:
        if self.inner is not None:
            try:
                self.inner.feed(name, chunk)
            except Exception:
                self._failed("feed")

    def end_file(self, name: str, size: int | None = None) -> None:
        if self.inner is not None:
            try:
                self.inner.end_file(name, size)
            except Exception:
                self._failed("end_file")

    def report(self, job_hyperparameters: Mapping[str, Any] | None = None, **options: str) -> dict[str, Any] | None:
        if self.inner is None:
            return None
        try:
            return self.inner.report(job_hyperparameters, **options)
        except Exception:
            self._failed("report")
            return None
