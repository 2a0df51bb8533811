"""Beat schedule parsing: a five-field cron string from settings becomes a Celery crontab."""

from __future__ import annotations

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured


def parse_cron(name: str, expression: str) -> crontab:
    fields = expression.split()
    if len(fields) != 5:
        raise ImproperlyConfigured(
            f"{name} must be a five-field cron expression such as '*/2 * * * *', got {expression!r}"
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={expression!r} is not a valid cron expression: {exc}") from None


def shortest_interval_seconds(schedule: crontab) -> int:
    """The shortest gap between two runs of ``schedule`` (used to set ``expires`` under it)."""
    minutes = sorted(schedule.minute)
    hours = sorted(schedule.hour)
    if len(minutes) > 1:
        gaps = [b - a for a, b in zip(minutes, minutes[1:], strict=False)]
        gaps.append(60 - minutes[-1] + minutes[0])
        return min(gaps) * 60
    if len(hours) > 1:
        gaps = [b - a for a, b in zip(hours, hours[1:], strict=False)]
        gaps.append(24 - hours[-1] + hours[0])
        return min(gaps) * 3600
    return 24 * 3600
