"""Sizes and waits as people read them: one formatter each, used by every message and table.

Sizes are binary and labelled so (KiB, MiB, GiB, TiB), as on the site and in the model card.
"""

from __future__ import annotations

import math
from typing import Any

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: Any) -> str:
    """``"512 B"``, ``"3.0 MiB"``; ``"-"`` for anything that is not a byte count."""
    if isinstance(size, bool):
        return "-"
    try:
        value = float(size)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(value) or value < 0:
        return "-"
    if value < 1024:
        return f"{value:.0f} B"
    for unit in _UNITS[1:]:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def human_wait(seconds: float) -> str:
    """``"45 s"``, ``"14 min 32 s"``, ``"2 h 5 min"``: a wait, rounded up to the second."""
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
