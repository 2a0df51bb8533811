"""The API tokens page in headless Chromium: reachable from the account menu, copy button, no
sideways scrolling at desktop and 375px phone width, and fully usable without JavaScript.
Screenshots land in ``var/screenshots/``."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken
from tests.browser.conftest import DESKTOP, PASSWORD, PHONE, SCREENSHOTS, make_user

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def user(django_user_model):
    return make_user(django_user_model, "tess")


def open_page(browser, live_server, size: dict, javascript: bool = True):
    context = browser.new_context(viewport=size, java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    if javascript:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("tess")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/models")
    return context, page


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_create_copy_and_revoke_in_the_browser(browser, live_server, user, size):
    context, page = open_page(browser, live_server, SIZES[size])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.locator("summary[aria-label^='Account menu']").click()
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url(f"{live_server.url}/account/tokens")
    page.get_by_label("Name").fill("a rather long token name for the nightly download job on the build farm")
    page.get_by_role("button", name="Create token").click()

    raw = page.locator("#new-token").inner_text()
    assert ApiToken.objects.authenticate(raw).user == user
    copy = page.get_by_role("button", name="Copy")
    copy.click()
    page.get_by_text("Copied to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == raw
    assert no_sideways_scroll(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"api-tokens-{size}.png"), full_page=True)

    page.goto(f"{live_server.url}/account/tokens")
    assert raw not in page.content()
    page.get_by_role("link", name="Revoke").click()
    revoke = page.get_by_role("button", name="Revoke token")
    revoke.wait_for()  # the confirmation page has loaded, not the list still unloading
    assert no_sideways_scroll(page)
    revoke.click()
    page.get_by_text("No active tokens").wait_for()
    assert ApiToken.objects.authenticate(raw) is None
    assert not errors
    context.close()


def test_the_page_works_without_javascript(browser, live_server, user):
    context, page = open_page(browser, live_server, SIZES["phone"], javascript=False)
    page.goto(f"{live_server.url}/account/tokens")
    page.get_by_label("Name").fill("no-js")
    page.get_by_role("button", name="Create token").click()

    raw = page.locator("#new-token").inner_text()
    assert ApiToken.objects.authenticate(raw).name == "no-js"
    assert not page.get_by_role("button", name="Copy").is_visible()  # nothing that would not work
    assert no_sideways_scroll(page)
    context.close()
