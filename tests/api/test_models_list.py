"""``GET /api/models``: the envelope, sorting, paging, filters, parameter validation and query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import logged_in
from tests.factories import make_artifact, make_dataset, make_job

pytestmark = pytest.mark.django_db


def aged(artifact, minutes: int):
    """Make ``artifact`` ``minutes`` old (the factory stamps everything with "now")."""
    type(artifact).objects.filter(pk=artifact.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    artifact.refresh_from_db()
    return artifact


def test_list_returns_the_seed_envelope_newest_first(alice):
    dataset = make_dataset(alice, name="Support chats")
    older = aged(make_artifact(alice, make_job(alice, dataset), name="older"), 10)
    newer = make_artifact(alice, make_job(alice, dataset), name="newer")

    response = logged_in(alice).get("/api/models")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"]["pagination"] == {"page": 1, "limit": 12, "total": 2, "totalPages": 1}
    models = body["data"]["models"]
    assert [m["id"] for m in models] == [str(newer.id), str(older.id)]
    first = models[0]
    for column in (
        "id",
        "user_id",
        "job_id",
        "dataset_id",
        "name",
        "version",
        "status",
        "quality_metrics",
        "training_summary",
        "configuration",
        "artifacts",
        "created_at",
    ):
        assert column in first
    assert first["user_id"] == str(alice.id)
    assert first["job_id"] == str(newer.job_id)
    assert first["dataset_id"] == str(dataset.id)
    assert first["status"] == "stored"
    assert first["quality_metrics"]["overall_score"] == 4
    assert first["dataset"] == {"name": "Support chats"}
    assert first["job"] == {
        "id": str(newer.job_id),
        "preset_id": "balanced",
        "created_at": newer.job.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_list_works_with_a_trailing_slash_too(alice):
    make_artifact(alice)
    response = logged_in(alice).get("/api/models/")
    assert response.status_code == 200
    assert response.json()["data"]["pagination"]["total"] == 1


def test_list_sorted_by_quality_puts_best_first_then_newest(alice):
    good_old = aged(make_artifact(alice, score=4, name="good old"), 30)
    best = aged(make_artifact(alice, score=5, name="best"), 20)
    good_new = aged(make_artifact(alice, score=4, name="good new"), 10)
    poor = make_artifact(alice, score=2, name="poor")

    response = logged_in(alice).get("/api/models", {"sort": "quality"})

    assert [m["name"] for m in response.json()["data"]["models"]] == [
        best.name,
        good_new.name,
        good_old.name,
        poor.name,
    ]


def test_list_paginates_and_a_page_past_the_end_is_empty_not_404(alice):
    for index in range(13):
        aged(make_artifact(alice, name=f"model {index:02d}"), index)
    client = logged_in(alice)

    first = client.get("/api/models").json()["data"]
    second = client.get("/api/models", {"page": 2}).json()["data"]
    beyond = client.get("/api/models", {"page": 5, "limit": 5})

    assert len(first["models"]) == 12
    assert first["pagination"] == {"page": 1, "limit": 12, "total": 13, "totalPages": 2}
    assert [m["name"] for m in second["models"]] == ["model 12"]
    assert second["pagination"] == {"page": 2, "limit": 12, "total": 13, "totalPages": 2}
    assert beyond.status_code == 200
    assert beyond.json()["data"] == {
        "models": [],
        "pagination": {"page": 5, "limit": 5, "total": 13, "totalPages": 3},
    }


def test_list_of_a_user_without_models_is_empty(alice):
    response = logged_in(alice).get("/api/models")
    assert response.json() == {
        "success": True,
        "data": {"models": [], "pagination": {"page": 1, "limit": 12, "total": 0, "totalPages": 0}},
    }


def test_list_filters_by_dataset_score_convergence_and_name(alice):
    chats, code = make_dataset(alice, name="Chats"), make_dataset(alice, name="Code")
    excellent = make_artifact(
        alice,
        make_job(alice, chats),
        score=5,
        name="Chats excellent",
        quality_metrics={"overall_score": 5, "convergence_quality": "excellent"},
    )
    overfit = make_artifact(
        alice,
        make_job(alice, code),
        score=3,
        name="Code overfit",
        quality_metrics={"overall_score": 3, "convergence_quality": "overfitting detected"},
    )
    poor = make_artifact(
        alice,
        make_job(alice, code),
        score=1,
        name="Code poor",
        quality_metrics={"overall_score": 1, "convergence_quality": "poor"},
    )
    client = logged_in(alice)

    def names(**params):
        response = client.get("/api/models", params)
        assert response.status_code == 200, response.content
        return {m["name"] for m in response.json()["data"]["models"]}

    assert names(dataset=str(code.id)) == {overfit.name, poor.name}
    assert names(min_score=3) == {excellent.name, overfit.name}
    assert names(convergence="overfitting detected") == {overfit.name}
    assert names(convergence="excellent") == {excellent.name}
    assert names(convergence="diverged") == set()
    assert names(q="code") == {overfit.name, poor.name}
    assert names(q="") == {excellent.name, overfit.name, poor.name}
    assert names(dataset=str(code.id), min_score=2, q="CODE") == {overfit.name}
    assert client.get("/api/models", {"min_score": 3}).json()["data"]["pagination"]["total"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "two"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "lots"}, "limit"),
        ({"sort": "name"}, "sort"),
        ({"sort": "-created_at"}, "sort"),
        ({"dataset": "not-a-uuid"}, "dataset"),
        ({"min_score": "0"}, "min_score"),
        ({"min_score": "6"}, "min_score"),
        ({"min_score": "high"}, "min_score"),
        ({"convergence": "great"}, "convergence"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_list_rejects_a_bad_parameter_saying_which(alice, params, field):
    response = logged_in(alice).get("/api/models", params)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "details"}
    assert body["error"].startswith(f"{field}: ")
    assert list(body["details"]) == [field]


def test_list_reports_every_bad_parameter_at_once(alice):
    body = logged_in(alice).get("/api/models", {"page": "0", "limit": "500", "sort": "x"}).json()
    assert set(body["details"]) == {"page", "limit", "sort"}


def test_list_never_shows_deleted_or_other_users_models(alice, bob):
    mine = make_artifact(alice)
    make_artifact(alice, deleted_at=timezone.now())
    make_artifact(bob)

    models = logged_in(alice).get("/api/models").json()["data"]["models"]

    assert [m["id"] for m in models] == [str(mine.id)]


def test_list_query_count_does_not_grow_with_page_size(alice, django_assert_max_num_queries):
    client = logged_in(alice)
    make_artifact(alice, make_job(alice, make_dataset(alice)))
    with CaptureQueriesContext(connection) as one:
        assert len(client.get("/api/models").json()["data"]["models"]) == 1

    for _ in range(11):
        make_artifact(alice, make_job(alice, make_dataset(alice)))
    with CaptureQueriesContext(connection) as twelve:
        assert len(client.get("/api/models").json()["data"]["models"]) == 12

    assert len(twelve) == len(one)
    # session + user, COUNT, one page query (dataset and job joined in)
    with django_assert_max_num_queries(4):
        client.get("/api/models", {"sort": "quality"})


def test_browsable_api_renders_the_envelope_for_a_signed_in_browser(alice):
    make_artifact(alice, name="Visible in the browser")
    response = logged_in(alice).get("/api/models", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"Visible in the browser" in response.content
    assert b"&quot;success&quot;: true" in response.content
