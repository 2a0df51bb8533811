"""Fixtures of the registry tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.factories import make_artifact, make_dataset, make_job


def revision(user, dataset=None, *, days_ago: float = 0, verdict: str = "ok", **extra):
    """A model of ``user`` on ``dataset`` (one repository per dataset), ``days_ago`` old."""
    dataset = dataset or make_dataset(user)
    job = make_job(user, dataset)
    return make_artifact(user, job, created_at=timezone.now() - timedelta(days=days_ago), verdict=verdict, **extra)
