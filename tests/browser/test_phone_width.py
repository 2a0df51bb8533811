"""At 375 px every model page fits: no horizontal panning, names and legends not cut (DESIGN §14)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, assert_no_horizontal_overflow, log_in, make_user, screenshot, seed_models

pytestmark = pytest.mark.django_db(transaction=True)

LONG_NAME = "Customer Support Conversations - rank 64 with a rather long descriptive suffix_without_spaces_at_all"
DIVERGED = {
    "summary": "The run diverged.",
    "checks": [{"code": "diverged", "status": "fail", "message": "Training loss rose to 105,340 after step 40."}],
}


def not_cut(page, selector: str) -> None:
    cut = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter((el) => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
            .map((el) => el.textContent.trim())""",
        selector,
    )
    assert not cut, f"cut off at 375 px: {cut}"


def test_list_detail_compare_and_job_pages_fit_a_phone(site, page, django_user_model):
    alice = make_user(django_user_model, "alice")
    models = list(seed_models(alice).values())
    diverged = models[-1]
    diverged.name, diverged.training_health, diverged.verdict = LONG_NAME, DIVERGED, "unusable"
    diverged.save()
    log_in(page, site, "alice")
    page.set_viewport_size(PHONE)

    page.goto(f"{site}/models")
    assert_no_horizontal_overflow(page)
    not_cut(page, "[data-testid=model-name] span")
    screenshot(page, "phone-list")

    for model in (diverged, models[0]):
        page.goto(f"{site}/models/{model.pk}")
        assert_no_horizontal_overflow(page)
        not_cut(page, ".detail-head .page-title")
        screenshot(page, f"phone-detail-{model.verdict}")
    assert page.locator("#peft-snippet").count() == 1

    page.goto(f"{site}/models/{diverged.pk}")
    assert page.locator("#peft-snippet").count() == 0
    assert page.get_by_test_id("unusable-badge").first.is_visible()

    ids = ",".join(str(m.pk) for m in models[-4:])
    page.goto(f"{site}/models/compare?ids={ids}")
    assert_no_horizontal_overflow(page)
    not_cut(page, ".cmp-legend li")
    screenshot(page, "phone-compare")

    page.goto(f"{site}/training/jobs/{diverged.job.pk}")
    assert_no_horizontal_overflow(page)
    screenshot(page, "phone-job")


def test_repository_pages_fit_a_phone_and_an_alias_moves_through_its_confirm_step(site, page, django_user_model):
    from artifacts.models import Alias
    from artifacts.services import registry

    alice = make_user(django_user_model, "alice")
    models = seed_models(alice)
    newest = models["Customer Support Conversations - quality"]
    older = models["Customer Support Conversations - rank 64"]
    older.name, older.training_health, older.verdict = LONG_NAME, DIVERGED, "unusable"
    older.save()
    repository = newest.repository
    registry.follow_main(repository)
    registry.move_alias(alice, repository, "production", newest)
    url = f"{site}/repos/alice/{repository.name}"
    log_in(page, site, "alice")

    for size, label in ((PHONE, "phone"), ({"width": 1280, "height": 900}, "desktop")):
        page.set_viewport_size(size)
        page.goto(f"{site}/repos")
        assert_no_horizontal_overflow(page)
        screenshot(page, f"{label}-repo-list")
        page.goto(url)
        assert_no_horizontal_overflow(page)
        assert 'revision="production"' in page.locator("#snippet-snapshot").inner_text()
        screenshot(page, f"{label}-repo-detail")

    page.set_viewport_size(PHONE)
    page.goto(url)
    row = page.locator(f"[data-testid=revision-row][data-commit='{older.commit}']")
    row.locator("input[name=alias]").fill("staging")
    row.get_by_role("button", name="Point here…").click()
    page.get_by_role("button", name="Move staging").wait_for()  # the confirm page has loaded
    assert_no_horizontal_overflow(page)
    assert page.get_by_test_id("unusable-reasons").is_visible()
    screenshot(page, "phone-repo-alias-force")
    page.get_by_role("button", name="Move staging").click()  # the force box is required: nothing is sent
    assert not Alias.objects.filter(repository=repository, name="staging").exists()
    page.get_by_test_id("force").locator("input").check()
    page.get_by_role("button", name="Move staging").click()
    page.wait_for_url(url)
    assert Alias.objects.get(repository=repository, name="staging").artifact_id == older.pk
    assert page.get_by_test_id("alias-history").get_by_text("forced").is_visible()
    assert_no_horizontal_overflow(page)
