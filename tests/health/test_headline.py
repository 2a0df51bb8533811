"""The headline helpers built on a health report: severity, improvement, rating caveat, download warning."""

from __future__ import annotations

import math

from artifacts.health.quality import calculate_quality_metrics
from artifacts.health.training_health import training_health
from artifacts.health.verdict import (
    download_warning,
    headline_facts,
    health_severity,
    improvement_is_good,
    rating_caveat,
)
from tests.health.histories import demo_points, healthy


def test_improvement_is_good_needs_a_positive_finite_improvement():
    result = training_health(healthy())
    assert improvement_is_good(result, {"loss_improvement": 60.0, "convergence_quality": "good"})
    for bad in (None, 0, -5.0, math.nan, math.inf, "60"):
        assert not improvement_is_good(result, {"loss_improvement": bad, "convergence_quality": "good"})


def test_helpers_tolerate_malformed_health():
    for broken in ({}, {"checks": None}, {"checks": [None, {"code": 1}, {"code": "diverged"}]}):
        assert health_severity(broken) == "pass"
        assert download_warning(broken) is None
        assert rating_caveat(broken, {}) is None


def test_severity_is_the_worst_status():
    assert health_severity({"checks": [{"code": "a", "status": "warn"}, {"code": "b", "status": "pass"}]}) == "warn"
    assert health_severity({"checks": [{"code": "a", "status": "warn"}, {"code": "b", "status": "fail"}]}) == "fail"


def test_headline_facts_bundle_the_helpers():
    data = demo_points("diverged")
    result, quality = training_health(data), calculate_quality_metrics(data)
    facts = headline_facts(result, quality)
    assert facts == {
        "severity": "fail",
        "improvement_is_good": False,
        "rating_caveat": rating_caveat(result, quality),
        "download_warning": download_warning(result),
    }
    assert facts["download_warning"] is not None
    healthy_facts = headline_facts(
        training_health(healthy()), {"loss_improvement": 80.0, "convergence_quality": "good"}
    )
    assert healthy_facts == {
        "severity": "pass",
        "improvement_is_good": True,
        "rating_caveat": None,
        "download_warning": None,
    }
