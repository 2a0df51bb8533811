"""The /models header and the admin overview cost the same queries whatever the number of models
and users, and page the users."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from artifacts.pages.admin_overview import USERS_PER_PAGE
from tests.conftest import logged_in
from tests.factories import add_file, make_artifact, make_ready_bundle

pytestmark = pytest.mark.django_db

OVERVIEW = "/admin/artifacts/ingestoverview/"


def queries(client, url: str) -> tuple[int, str]:
    """How many queries the page took, and the page; none of them reads a file or bundle row."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "lora_model_artifact_files" not in sql and "lora_model_bundles" not in sql
    return len(captured.captured_queries), response.content.decode()


def add_models(user, count: int) -> None:
    for _ in range(count):
        model = make_artifact(user)
        for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json"):
            add_file(model, name, b"x" * 100)


def test_models_page_queries_do_not_grow_with_the_models(alice):
    client = logged_in(alice)
    add_models(alice, 1)
    few, _ = queries(client, "/models")
    add_models(alice, 14)
    many, page = queries(client, "/models")
    assert many == few
    assert 'data-testid="storage-use"> · 4.4\xa0KiB stored' in page  # 15 models × 3 files × 100 bytes


def test_overview_queries_do_not_grow_with_the_users(django_user_model, charlie):
    client = logged_in(charlie)

    def add_users(start: int, count: int) -> None:
        for n in range(start, start + count):
            user = django_user_model.objects.create_user(f"user{n:03d}")
            add_models(user, 1)

    add_users(0, 2)
    few, _ = queries(client, OVERVIEW)
    add_users(2, 8)
    many, page = queries(client, OVERVIEW)
    assert many == few
    assert page.count('data-testid="storage-user"') == 10
    assert 'data-testid="storage-pages"' not in page  # one page only


def test_overview_pages_users_largest_first(django_user_model, charlie):
    users = [django_user_model.objects.create_user(f"user{n:03d}") for n in range(USERS_PER_PAGE + 3)]
    for n, user in enumerate(users):
        make_ready_bundle(make_artifact(user), 1000 + n)  # user052 stores the most
    django_user_model.objects.create_user("empty")  # stores nothing: not listed
    client = logged_in(charlie)
    _, first = queries(client, OVERVIEW)
    rows = first.split('data-testid="storage-user"><td>')[1:]
    assert len(rows) == USERS_PER_PAGE
    assert rows[0].startswith("user052<") and rows[-1].startswith("user003<")
    assert f"Users 1–{USERS_PER_PAGE} of {USERS_PER_PAGE + 3}" in first
    assert '<a href="?page=2" rel="next">' in first
    _, second = queries(client, OVERVIEW + "?page=2")
    rows = second.split('data-testid="storage-user"><td>')[1:]
    assert [row.split("<")[0] for row in rows] == ["user002", "user001", "user000"]
    assert '<a href="?page=1" rel="prev">' in second
    _, bad = queries(client, OVERVIEW + "?page=nonsense")  # any page parameter answers a page
    assert "Users 1–" in bad
    assert "empty<" not in first + second
