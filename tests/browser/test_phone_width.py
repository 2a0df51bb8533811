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
