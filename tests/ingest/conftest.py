"""Fixtures of the ingest tests."""

from __future__ import annotations

import pytest

from tests.ingest_fakes import finished_job


@pytest.fixture
def job(alice):
    """A completed job (external id ``ext-1``) of alice's, as the faked cluster knows it."""
    return finished_job(alice)
