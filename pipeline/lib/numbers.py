"""Reading numbers out of JSON snapshots, form values and model fields, in one place.

Training summaries and quality metrics are JSON written by other systems: a key may be missing,
null, a string, or (on PostgreSQL) a NaN. Pages, the chart and the API all need the same answer to
"is this a number I can show?", so they ask here.
"""

from __future__ import annotations

import math
from typing import Any


def as_number(value: Any) -> float | None:
    """A float for ints, floats, Decimals and numeric strings; None for anything else.

    Non-finite values stay as they are (``float("nan")``): callers that show them ("NaN", "∞")
    need to tell them apart from a missing value.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def finite_number(value: Any) -> float | None:
    """Like :func:`as_number`, but NaN and infinities count as missing too."""
    number = as_number(value)
    return number if number is not None and math.isfinite(number) else None


def first_finite(*values: Any) -> float | None:
    """The first value that is a finite number (JSON snapshots may lack keys or hold nulls)."""
    for value in values:
        number = finite_number(value)
        if number is not None:
            return number
    return None


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts and lists too) replaced by None.

    JSON has no NaN or Infinity: a diverged run's metrics must not break an API response.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value


BINARY_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def binary_size(value: Any) -> str:
    """A size in bytes with binary units, the one way every page and text shows sizes (DESIGN §14).

    ``512 B``, ``1.5 KiB``, ``12.3 MiB``, ``1.2 GiB``; an em dash when the value is not a size.
    """
    number = finite_number(value)
    if number is None or number < 0:
        return "—"
    if number < 1024:
        return f"{int(number)} B"
    for unit in BINARY_UNITS:
        number /= 1024
        if number < 1024 or unit == BINARY_UNITS[-1]:
            return f"{number:,.1f} {unit}"
    raise AssertionError("unreachable")  # the loop returns on its last unit


def format_loss(value: Any) -> str:
    """A loss as every page shows it: four decimals, or whole thousands once it has blown up (105,340)."""
    number = as_number(value)
    if number is None:
        return "—"
    if not math.isfinite(number):
        return "NaN" if math.isnan(number) else ("∞" if number > 0 else "-∞")
    return f"{number:.4f}" if abs(number) < 1000 else f"{number:,.0f}"
