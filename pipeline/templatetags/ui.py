"""Template filters both apps' pages use: numbers, money, relative times and safe links."""

from __future__ import annotations

import math
from typing import Any

from django import template
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince

from pipeline.lib.numbers import as_number
from pipeline.lib.numbers import binary_size as _binary_size

register = template.Library()

DASH = "—"


@register.filter
def or_dash(value: Any) -> Any:
    """The value itself, or an em dash when it is missing (None, empty string, empty container)."""
    if value is None or value == "" or value == [] or value == {}:
        return DASH
    return value


@register.filter
def decimal(value: Any, places: int = 2) -> str:
    """Fixed decimals; an em dash for missing values, "NaN"/"∞" for non-finite ones."""
    number = as_number(value)
    if number is None:
        return DASH
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return f"{number:.{int(places)}f}"


@register.filter
def binary_size(value: Any) -> str:
    """A size in bytes with binary units (KiB, MiB, GiB), the same on every page (DESIGN §14)."""
    return _binary_size(value).replace(" ", "\xa0")  # the number never wraps away from its unit


@register.filter
def money(value: Any) -> str:
    number = as_number(value)
    if number is None or not math.isfinite(number):
        return DASH
    return f"${number:,.2f}"


@register.filter
def number_plain(value: Any) -> str:
    """Hyperparameters as people write them: 0.0002, 8, 3e-05 → 3e-05."""
    number = as_number(value)
    if number is None:
        return DASH if value in (None, "") else str(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return format(number, "g")


@register.filter
def compact_count(value: Any) -> str:
    """12 480 → 12.5K, 9 120 000 → 9.1M."""
    number = as_number(value)
    if number is None or not math.isfinite(number):
        return DASH
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(number) >= threshold:
            return f"{number / threshold:.1f}{suffix}"
    return f"{int(number):,}"


@register.filter
def safe_action_url(url: Any) -> str:
    """A notification's link only when it stays on this site (relative); otherwise nothing."""
    text = str(url or "").strip()
    if text and url_has_allowed_host_and_scheme(text, allowed_hosts=None) and text.startswith("/"):
        return text
    return ""


@register.filter
def ago(moment: Any) -> str:
    """ "just now" for the last minute, else Django's timesince ("3 hours ago")."""
    if moment is None:
        return DASH
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"
