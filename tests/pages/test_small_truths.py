"""Small truths: download links that no longer work explain themselves in a browser (scripts keep a
non-2xx status), the admin carries the product's name, the demo shows the product's 404 page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from artifacts.models import ModelArtifact
from tests.factories import add_file, make_artifact
from tests.page_text import text

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.fixture
def signed_url(alice, alice_client):
    model = make_artifact(alice)
    add_file(model, "adapter_model.safetensors", b"weights" * 100)
    response = alice_client.post(f"/api/models/{model.pk}/download")
    url = response.json()["data"]["download_urls"]["adapter_model.safetensors"]
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""]), model


def expired(settings):
    return time_machine.travel(timezone.now() + timedelta(seconds=settings.SIGNED_URL_TTL + 5), tick=False)


def test_an_expired_link_in_a_browser_is_a_page_that_says_what_to_do(signed_url, settings):
    url, _ = signed_url
    with expired(settings):
        response = Client().get(url, HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    page = text(response)
    assert "This download link has expired." in page
    assert "download from there: you get fresh links" in page
    assert 'href="/models"' in response.content.decode()


def test_an_expired_link_for_a_script_is_one_plain_line_and_not_2xx(signed_url, settings):
    url, _ = signed_url
    with expired(settings):
        for accept in ("*/*", None, "application/octet-stream"):
            extra = {"HTTP_ACCEPT": accept} if accept else {}
            response = Client().get(url, **extra)
            assert response.status_code == 403
            assert response["Content-Type"].startswith("text/plain")
            assert response.content == b"This download link has expired.\n"


def test_a_tampered_link_in_a_browser_is_a_page_too(signed_url):
    url, _ = signed_url
    response = Client().get(url[:-3] + "xyz", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 403
    assert "This download link is not valid." in text(response)


def test_a_link_to_a_deleted_model_is_404_for_both(signed_url):
    url, model = signed_url
    ModelArtifact.objects.filter(pk=model.pk).update(deleted_at=timezone.now())
    page = Client().get(url, HTTP_ACCEPT=BROWSER_ACCEPT)
    assert page.status_code == 404 and "This file is no longer available." in text(page)
    assert "deleted after this link was made" in text(page)
    script = Client().get(url)
    assert script.status_code == 404 and script.content == b"This file is no longer available.\n"


def test_the_links_handed_out_count_is_named_for_what_it_counts(signed_url, alice_client):
    _, model = signed_url
    model.refresh_from_db()
    assert model.links_handed_out == 1
    data = alice_client.get(f"/api/models/{model.pk}").json()["data"]
    assert data["links_handed_out"] == 1 and "download_count" not in data
    assert ModelArtifact._meta.get_field("links_handed_out").verbose_name == "download links handed out"


def test_admin_carries_the_products_name_and_short_list_columns(django_user_model, alice):
    make_artifact(alice, name="a model")
    staff = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456789")
    client = Client()
    client.force_login(staff)
    index = client.get("/admin/")
    assert "PIPELINE administration" in text(index) and "Django administration" not in text(index)
    assert "<title>Models, training jobs and deliveries | PIPELINE admin</title>" in index.content.decode()
    listing = text(client.get("/admin/artifacts/modelartifact/"))
    for column in ("Name", "User", "Stars", "Health", "Links issued", "Created", "Deleted"):
        assert column in listing
    assert "Download count" not in listing


def test_product_404_page_with_debug_on_when_asked(client, settings):
    settings.DEBUG = True
    settings.PRODUCT_404_IN_DEBUG = True
    response = client.get("/no/such/page", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 404
    assert "Page not found" in text(response) and "Using the URLconf" not in response.content.decode()
    # API clients keep the JSON error.
    api = client.get("/api/models/not-a-model", HTTP_ACCEPT="application/json")
    assert api.status_code in (401, 403, 404) and api["Content-Type"].startswith("application/json")


def test_product_404_for_a_missing_model_with_debug_on(alice_client, settings):
    settings.DEBUG = True
    settings.PRODUCT_404_IN_DEBUG = True
    response = alice_client.get("/models/00000000-0000-0000-0000-000000000000", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 404
    assert "Go to your models" in text(response)


def test_debug_404_stays_for_developers_by_default(client, settings):
    settings.DEBUG = True
    settings.PRODUCT_404_IN_DEBUG = False
    response = client.get("/no/such/page", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 404
    assert "Using the URLconf" in response.content.decode()
