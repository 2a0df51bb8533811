"""Fixtures and helpers of the browser tests: Debian's headless Chromium drives the real pages
against pytest-django's live server.

One browser per test module; each test gets a fresh context (cookies, downloads). Screenshots are
saved under ``var/screenshots/``.
"""

from __future__ import annotations

import math
import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.conftest import needs_service
from tests.factories import add_history, make_artifact, make_dataset, make_job

# Playwright's sync API runs an event loop in this thread; the ORM calls in the tests are safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
PASSWORD = "correct-horse-battery-1"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        needs_service(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def site(live_server, settings):
    """The live server's base URL; signed local download links must point at it too."""
    settings.SITE_URL = live_server.url
    return live_server.url


@pytest.fixture
def context(browser):
    ctx = browser.new_context(accept_downloads=True, viewport=DESKTOP)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


def make_user(django_user_model, username: str):
    return django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD)


def log_in(page, site: str, username: str) -> None:
    page.goto(f"{site}/models")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/models")


def curve(start: float, end: float, steps: int = 30, gap: float | None = 0.1, seed: int = 1):
    rng = random.Random(seed)
    points = []
    for i in range(steps):
        t = i / (steps - 1)
        train = end + (start - end) * math.exp(-4 * t) * (1 + rng.uniform(-0.03, 0.03))
        val = train + gap * t if gap is not None and i % 5 == 4 else None
        points.append((train, val))
    return points


def seed_models(user) -> dict[str, object]:
    """Five models across three datasets, newest first: fair, excellent, good, poor, overfitting."""
    support = make_dataset(user, name="Customer Support Conversations")
    legal = make_dataset(user, name="Contract Clause Extraction")
    code = make_dataset(user, name="Python Code Review Pairs")
    specs = [
        ("Python Code Review Pairs - fast", code, 3, "fair", 0.1, 2.5, 1.6),
        ("Customer Support Conversations - quality", support, 5, "excellent", 0.5, 2.45, 0.32),
        ("Contract Clause Extraction - balanced", legal, 4, "good", 1.5, 2.2, 0.78),
        ("Contract Clause Extraction - small", legal, 2, "poor", 2.5, 2.6, 2.31),
        ("Customer Support Conversations - rank 64", support, 3, "overfitting detected", 3.5, 2.3, 0.28),
    ]
    made = {}
    for index, (name, dataset, score, label, days, start, end) in enumerate(specs):
        hyper = {"learning_rate": 0.0002, "batch_size": 8, "epochs": 3, "rank": 16 * (index + 1)}
        job = make_job(user, dataset=dataset, final_cost=f"{18 + index * 7.35:.2f}", hyperparameters=hyper)
        add_history(job, curve(start, end, seed=index, gap=0.9 if "overfitting" in label else 0.12))
        improvement = (start - end) / start * 100
        made[name] = make_artifact(
            user,
            job=job,
            score=score,
            name=name,
            created_at=timezone.now() - timedelta(days=days),
            quality_metrics={
                "overall_score": score,
                "convergence_quality": label,
                "final_training_loss": end,
                "final_validation_loss": end + 0.1,
                "loss_improvement": improvement,
            },
            training_summary={
                "epochs_completed": 3,
                "total_steps": 290,
                "final_loss": end,
                "training_duration_hours": 1.2 + index * 0.7,
                "total_cost": 18 + index * 7.35,
            },
        )
    return made


def card_names(page) -> list[str]:
    return page.locator("[data-testid=model-name]").all_inner_texts()


def assert_no_horizontal_overflow(page) -> None:
    # Measured once the document is loaded: between a click and the next page there is no document.
    page.wait_for_load_state("load")
    root = "document.documentElement"
    measured = page.wait_for_function(f"{root} && {{overflow: {root}.scrollWidth - {root}.clientWidth}}")
    overflow = measured.json_value()["overflow"]
    assert overflow <= 0, f"page is {overflow}px wider than the viewport"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
