"""Browser tests: Debian's headless Chromium drives the real pages against pytest-django's live server.

Screenshots of the list and detail pages (desktop and 375px phone width) are saved under
``var/screenshots/``; the browser, its contexts and the helpers are in ``conftest.py``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid

import pytest

from pipeline.models import Notification
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    assert_no_horizontal_overflow,
    card_names,
    log_in,
    make_user,
    screenshot,
    seed_models,
)
from tests.factories import add_file, make_artifact, make_job

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_browse_sort_download_and_read_notification(site, page, context, django_user_model, tmp_path):
    user = make_user(django_user_model, "dana")
    models = seed_models(user)
    chosen = models["Customer Support Conversations - quality"]
    contents = {
        "adapter_config.json": b'{"base_model_name_or_path": "mistralai/Mistral-7B-v0.1", "r": 16}',
        "adapter_model.safetensors": os.urandom(300_000),
        "training_args.json": b'{"epochs": 3}',
    }
    for filename, data in contents.items():
        add_file(chosen, filename, data)
    Notification.objects.create(
        user=user,
        type="artifact_ready",
        title="Model Ready for Download",
        priority="high",
        message="Your trained model is ready. Quality score: 5/5 stars",
        action_url=f"/models/{chosen.pk}",
    )

    log_in(page, site, "dana")

    # The stylesheet and script are served and applied.
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).position") == "sticky"
    assert page.evaluate("document.documentElement.classList.contains('js')")

    assert page.get_by_test_id("model-count").inner_text().startswith("5 models total")
    recent = card_names(page)
    assert recent[0] == "Python Code Review Pairs - fast"
    assert page.get_by_test_id("unread-count").inner_text() == "1"
    screenshot(page, "models-list-desktop")

    # Changing the sort select submits the form by itself and reorders the cards.
    page.get_by_label("Sort by").select_option("quality")
    page.wait_for_url("**/models?*sort=quality*")
    by_quality = card_names(page)
    assert by_quality[0] == "Customer Support Conversations - quality"
    assert by_quality != recent
    stars = page.locator("[data-testid=model-card]").first.get_by_role("img", name="5 out of 5 stars")
    assert stars.count() == 1

    page.set_viewport_size(PHONE)
    assert_no_horizontal_overflow(page)
    screenshot(page, "models-list-phone")
    page.set_viewport_size(DESKTOP)

    # Open the model.
    page.get_by_role("link", name="View Details of Customer Support Conversations - quality").click()
    page.wait_for_url(f"{site}/models/{chosen.pk}")
    assert page.get_by_role("heading", level=1).inner_text() == chosen.name
    assert page.locator(".chart__wide svg[role=img]").is_visible()
    screenshot(page, "model-detail-desktop")
    page.set_viewport_size(PHONE)
    assert page.locator(".chart__compact svg[role=img]").is_visible()
    assert page.locator(".chart__wide svg[role=img]").is_hidden()
    assert_no_horizontal_overflow(page)
    screenshot(page, "model-detail-phone")
    page.set_viewport_size(DESKTOP)

    # Select two files: the button label follows the selection and Clear Selection appears.
    download_button = page.locator("[data-download-button]")
    expect(download_button).to_have_text("Download All Files")
    clear = page.get_by_role("button", name="Clear Selection")
    assert clear.is_hidden()
    page.get_by_role("checkbox", name=re.compile(r"^adapter_config\.json")).check()
    expect(download_button).to_have_text("Download Selected (1)")
    page.get_by_role("checkbox", name=re.compile(r"^adapter_model\.safetensors")).check()
    expect(download_button).to_have_text("Download Selected (2)")
    assert clear.is_visible()

    downloads = []
    page.on("download", lambda download: downloads.append(download))
    download_button.click()
    toast = page.locator(".toast", has_text="Download Started")
    toast.wait_for()
    assert "Downloading 2 file(s)" in toast.inner_text()
    deadline = time.monotonic() + 15
    while len(downloads) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert sorted(d.suggested_filename for d in downloads) == ["adapter_config.json", "adapter_model.safetensors"]
    for download in downloads:
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        expected = hashlib.sha256(contents[download.suggested_filename]).hexdigest()
        assert hashlib.sha256(target.read_bytes()).hexdigest() == expected
        assert page.locator(f"[data-sha256='{download.suggested_filename}']").inner_text() == expected

    # Clear Selection resets the label.
    clear.click()
    expect(download_button).to_have_text("Download All Files")

    # Model detail → its training job → back to the model.
    page.get_by_role("link", name="View Job").click()
    page.wait_for_url(f"{site}/training/jobs/{chosen.job_id}")
    assert page.get_by_text("Ready.", exact=True).is_visible()
    screenshot(page, "job-detail-desktop")
    page.get_by_role("link", name="View model").click()
    page.wait_for_url(f"{site}/models/{chosen.pk}")

    # The bell opens the latest notifications; reading one lowers the count.
    page.get_by_role("group").filter(has=page.locator(".bell__button")).locator("summary").click()
    assert page.locator(".bell__panel").get_by_text("Model Ready for Download").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "notifications-bell-desktop.png"))
    page.locator(".bell__panel").get_by_role("link", name="View all notifications").click()
    page.wait_for_url(f"{site}/notifications")
    page.get_by_role("button", name=re.compile(r"^Mark as read")).click()
    # The click posts and reloads the same address, so wait on what the page shows, not on the URL.
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    expect(page.locator(".bell__button")).to_have_attribute("aria-label", "Notifications, 0 unread")


def test_download_error_shows_the_api_message(site, page, django_user_model):
    user = make_user(django_user_model, "erin")
    model = make_artifact(user, job=make_job(user), name="Broken storage model")
    add_file(model, "adapter_config.json", b"{}")
    log_in(page, site, "erin")
    page.goto(f"{site}/models/{model.pk}")
    page.route(
        "**/api/models/*/download",
        lambda route: route.fulfill(
            status=400,
            content_type="application/json",
            body='{"error": "Unknown file name(s)", "details": {"files": ["nope.bin"]}}',
        ),
    )
    page.locator("[data-download-button]").click()
    toast = page.locator(".toast--error")
    toast.wait_for()
    assert "Download Error" in toast.inner_text()
    assert "Unknown file name(s)" in toast.inner_text() and "nope.bin" in toast.inner_text()
    assert page.locator("[data-download-button]").is_enabled()  # spinner gone, can try again


def test_empty_state_and_404(site, page, django_user_model):
    make_user(django_user_model, "fred")
    log_in(page, site, "fred")
    assert page.get_by_role("heading", name="No models yet").is_visible()
    assert page.get_by_role("link", name="View training jobs").is_visible()
    screenshot(page, "models-empty-desktop")

    response = page.goto(f"{site}/models/{uuid.uuid4()}")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    page.set_viewport_size(PHONE)
    assert_no_horizontal_overflow(page)


def test_pages_work_without_javascript(site, browser, django_user_model):
    user = make_user(django_user_model, "gina")
    models = seed_models(user)
    chosen = models["Contract Clause Extraction - balanced"]
    add_file(chosen, "adapter_config.json", b"{}")
    add_file(chosen, "adapter_model.safetensors", b"weights")
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        page = context.new_page()
        log_in(page, site, "gina")
        page.get_by_label("Sort by").select_option("quality")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**/models?*sort=quality*")
        assert card_names(page)[0] == "Customer Support Conversations - quality"
        page.get_by_label("Minimum rating").select_option("4")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**/models?*min_score=4*")
        assert sorted(card_names(page)) == [
            "Contract Clause Extraction - balanced",
            "Customer Support Conversations - quality",
        ]

        page.goto(f"{site}/models/{chosen.pk}")
        page.get_by_role("button", name="Download All Files").click()
        page.wait_for_url(f"{site}/models/{chosen.pk}/download")
        links = page.locator(".link-list a")
        assert links.all_inner_texts() and len(links.all_inner_texts()) == 2
        assert_no_horizontal_overflow(page)
    finally:
        context.close()


def test_following_a_notification_from_the_bell_opens_it_and_marks_it_read(site, page, django_user_model):
    user = make_user(django_user_model, "hana")
    model = make_artifact(user, job=make_job(user), name="Bell model")
    Notification.objects.create(
        user=user,
        type="artifact_ready",
        title="Bell model is ready",
        message="Your model is ready to download.",
        action_url=f"/models/{model.pk}",
    )
    log_in(page, site, "hana")
    assert page.get_by_test_id("unread-count").inner_text() == "1"

    page.locator(".bell__button").click()
    page.locator(".bell__panel").get_by_role("link", name=re.compile("Bell model is ready")).click()

    page.wait_for_url(f"{site}/models/{model.pk}")
    assert page.get_by_role("heading", name="Bell model").is_visible()
    assert page.locator(".bell__button").get_attribute("aria-label") == "Notifications, 0 unread"
