"""Purpose-built loss histories for the training health tests, and how they read a report."""

from __future__ import annotations

import json
import math

from pipeline.demo_data import JOBS, loss_history


def points(train, val=None, every=1, start=0, stride=10):
    """Points at steps start, start+stride, …; val(i) or a list aligned with train, None = not logged."""
    out = []
    for i, loss in enumerate(train):
        if callable(val):
            v = val(i)
        elif val is None:
            v = None
        else:
            v = val[i]
        out.append({"step": start + i * stride, "epoch": i / len(train), "training_loss": loss, "validation_loss": v})
    return out


def curve(n, start=2.5, end=0.5, rate=8.0):
    return [end + (start - end) * math.exp(-rate * i / (n - 1)) for i in range(n)]


def with_val(train, gap=0.1, every=10):
    return [t + gap if i % every == every - 1 or i == len(train) - 1 else None for i, t in enumerate(train)]


def demo_points(slug):
    job = next(j for j in JOBS if j.slug == slug)
    history = loss_history(job)
    return [
        {
            "step": step,
            "epoch": round(3 * i / len(history), 3),
            # stored as the database stores it: a non-finite training loss is NULL
            "training_loss": train if math.isfinite(train) else None,
            "validation_loss": val,
        }
        for i, (step, train, val) in enumerate(history)
    ]


def check(result, code):
    found = [c for c in result["checks"] if c["code"] == code]
    assert len(found) <= 1
    return found[0] if found else None


def codes(result):
    return [c["code"] for c in result["checks"]]


def assert_json_safe(result):
    json.dumps(result, allow_nan=False)
    assert isinstance(result["summary"], str) and result["summary"].endswith(".")
    assert result["summary"].count(". ") == 0  # one sentence
    for c in result["checks"]:
        assert c["status"] in {"pass", "warn", "fail"}
        assert c["message"] and c["message"][0].isupper() and c["message"].endswith(".")


HEALTHY = curve(100)


def healthy():
    return points(HEALTHY, with_val(HEALTHY))
