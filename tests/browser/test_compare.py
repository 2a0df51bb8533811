"""Browser test: pick two models on the list, compare them, switch the configuration view.

Uses the browser fixtures of ``conftest.py``; screenshots of the list and compare pages at
desktop and 375px phone width go to ``var/screenshots/``.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    assert_no_horizontal_overflow,
    log_in,
    make_user,
    screenshot,
    seed_models,
)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_select_two_models_and_compare_their_curves(site, page, django_user_model):
    user = make_user(django_user_model, "erin")
    models = seed_models(user)
    first = models["Customer Support Conversations - quality"]
    second = models["Customer Support Conversations - rank 64"]

    log_in(page, site, "erin")
    bar = page.locator("form[data-compare-form]")
    assert bar.is_hidden()  # nothing picked yet

    page.get_by_label("Compare Customer Support Conversations - quality").check()
    expect(bar).to_be_visible()
    button = bar.get_by_role("button")
    expect(button).to_have_text("Compare (1)")
    assert button.is_disabled()
    expect(bar.locator("[data-compare-status]")).to_have_text("Tick 1 more model to compare.")
    page.get_by_label("Compare Customer Support Conversations - rank 64").check()
    expect(button).to_have_text("Compare (2)")
    assert button.is_enabled()
    screenshot(page, "models-list-selected-desktop")
    page.set_viewport_size(PHONE)
    assert_no_horizontal_overflow(page)
    screenshot(page, "models-list-selected-phone")
    page.set_viewport_size(DESKTOP)

    # More than four cannot be submitted.
    for name in ("Python Code Review Pairs - fast", "Contract Clause Extraction - balanced"):
        page.get_by_label(f"Compare {name}").check()
    expect(button).to_have_text("Compare (4)")
    page.get_by_label("Compare Contract Clause Extraction - small").check()
    expect(button).to_have_text("Compare (5)")
    assert button.is_disabled()
    expect(bar.locator("[data-compare-status]")).to_contain_text("at most 4 models")
    extra = (
        "Python Code Review Pairs - fast",
        "Contract Clause Extraction - balanced",
        "Contract Clause Extraction - small",
    )
    for name in extra:
        page.get_by_label(f"Compare {name}").uncheck()
    expect(button).to_have_text("Compare (2)")

    button.click()
    page.wait_for_url("**/models/compare?ids=*")
    assert page.get_by_role("heading", level=1).inner_text() == "Compare models"

    # Both models' curves are drawn in the visible (wide) charts: raw + smoothed training, validation.
    for model in (first, second):
        training = page.locator(f".chart__wide svg[data-chart=cmp-train-wide] path[data-model='{model.pk}']")
        validation = page.locator(f".chart__wide svg[data-chart=cmp-val-wide] path[data-model='{model.pk}']")
        assert training.count() == 2 and validation.count() == 1
        assert training.last.is_visible()
        assert len(training.last.get_attribute("d")) > 50
        colour = training.last.evaluate("el => getComputedStyle(el).stroke")
        assert colour not in ("none", "")
    colours = {
        page.locator(f"svg[data-chart=cmp-train-wide] path[data-model='{m.pk}']").last.evaluate(
            "el => getComputedStyle(el).stroke"
        )
        for m in (first, second)
    }
    assert len(colours) == 2  # one colour per model

    # Only differences by default; "All settings" shows the rest in place and keeps it in the URL.
    batch = page.locator("section[data-diff-toggle] tr", has_text="Batch size")
    rank = page.locator("section[data-diff-toggle] tr", has_text="LoRA rank")
    assert batch.is_hidden() and rank.is_visible()
    page.get_by_role("link", name="All settings").click()
    expect(batch).to_be_visible()
    expect(page).to_have_url(re.compile(r"show=all"))
    page.get_by_role("link", name="Only differences").click()
    expect(batch).to_be_hidden()
    screenshot(page, "models-compare-desktop")

    page.set_viewport_size(PHONE)
    assert page.locator(".chart__compact svg[data-chart=cmp-train-compact]").is_visible()
    assert page.locator(f"svg[data-chart=cmp-train-compact] path[data-model='{second.pk}']").count() == 2
    assert_no_horizontal_overflow(page)
    screenshot(page, "models-compare-phone")


def test_back_shows_the_filters_actually_applied(site, page, django_user_model):
    user = make_user(django_user_model, "fay")
    seed_models(user)
    log_in(page, site, "fay")
    sort = page.get_by_label("Sort by")
    sort.select_option("quality")  # submits by itself
    page.wait_for_url("**/models?*sort=quality*")
    expect(page.get_by_label("Sort by")).to_have_value("quality")
    page.go_back()
    page.wait_for_url(f"{site}/models")
    # The list shown is sorted by date, and the select says so (not the choice made before leaving).
    expect(page.get_by_label("Sort by")).to_have_value("created_at")
    assert page.locator("[data-testid=model-name]").first.inner_text() == "Python Code Review Pairs - fast"
