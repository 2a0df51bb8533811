"""The models list at any depth: the same rows as plain offsets, a fixed number of queries, exact totals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from artifacts.models import ArtifactFacetCount, ArtifactSearchName, LiveArtifactCount, ModelArtifact, Repository
from pipeline.lib.api.pagination import page_rows
from pipeline.models import Dataset, TrainingJob

PAGE_COUNT_CASES = 50 * 12 + 5  # fifty full pages and a short one


def bulk_artifacts(user, count: int, *, same_time_every: int = 3) -> list[ModelArtifact]:
    """``count`` artifacts; every ``same_time_every`` share a created_at, so only the id orders them."""
    dataset = Dataset.objects.create(user=user, name="Bulk set")
    start = timezone.now() - timedelta(days=30)
    jobs = [
        TrainingJob(user=user, dataset=dataset, status="completed", external_job_id=f"{user.username}-bulk-{i}")
        for i in range(count)
    ]
    TrainingJob.objects.bulk_create(jobs)
    repository = Repository.objects.default_for(user.pk, dataset.name, None)
    return ModelArtifact.objects.bulk_create(
        ModelArtifact(
            user=user,
            job=job,
            dataset=dataset,
            repository=repository,
            name=f"Bulk {'legal' if i % 7 == 0 else 'chat'} {i:04d}",
            quality_score=i % 5 + 1,
            quality_metrics={"overall_score": i % 5 + 1, "convergence_quality": "good"},
            inspection={"verdict": "ok"},
            created_at=start + timedelta(minutes=i // same_time_every),
        )
        for i, job in enumerate(jobs)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["created_at", "quality"])
def test_every_page_holds_the_rows_a_plain_offset_gives(alice, bob, sort):
    bulk_artifacts(alice, 61)
    bulk_artifacts(bob, 5)
    ModelArtifact.objects.filter(name__endswith="0010").update(deleted_at=timezone.now())
    listed = ModelArtifact.objects.visible_to(alice).browse(sort=sort)
    expected = [a.pk for a in listed]
    assert len(expected) == 60
    for limit in (1, 7, 12, 60, 100):
        pages = [
            [a.pk for a in page_rows(listed, offset, limit, len(expected))]
            for offset in range(0, len(expected) + limit, limit)
        ]
        assert [pk for page in pages for pk in page] == expected, limit
        assert pages[-1] == []  # past the end: empty


@pytest.mark.django_db
def test_api_and_page_query_counts_do_not_grow_with_depth_or_page_size(
    alice, alice_client, django_assert_max_num_queries
):
    bulk_artifacts(alice, PAGE_COUNT_CASES)
    for url in ("/api/models", "/api/models?page=50", "/api/models?page=26&sort=quality", "/api/models?limit=100"):
        with django_assert_max_num_queries(4):  # session, user, total, page
            response = alice_client.get(url)
        assert response.status_code == 200
        assert response.json()["data"]["pagination"]["total"] == PAGE_COUNT_CASES
    assert len(alice_client.get("/api/models?page=51").json()["data"]["models"]) == 5
    for url in ("/models", "/models?page=50", "/models?page=51&sort=quality"):
        with django_assert_max_num_queries(8):  # session, user, datasets, total, page, the bell (2), storage use
            response = alice_client.get(url)
        assert response.status_code == 200


@pytest.mark.django_db
def test_a_deep_page_of_the_api_is_the_right_models(alice, alice_client):
    bulk_artifacts(alice, PAGE_COUNT_CASES)
    everything = [str(a.pk) for a in ModelArtifact.objects.visible_to(alice).browse(sort="quality")]
    data = alice_client.get("/api/models?page=40&limit=12&sort=quality").json()["data"]
    assert [m["id"] for m in data["models"]] == everything[39 * 12 : 40 * 12]
    assert data["pagination"] == {"page": 40, "limit": 12, "total": PAGE_COUNT_CASES, "totalPages": 51}
    assert "inspection" not in data["models"][0]


@pytest.mark.django_db
def test_a_deep_page_of_the_models_page_shows_the_right_models(alice, alice_client):
    bulk_artifacts(alice, 30)
    response = alice_client.get("/models?page=3")
    names = [a.name for a in ModelArtifact.objects.visible_to(alice).browse()][24:]
    assert [m.name for m in response.context["models"]] == names
    assert response.context["owned_total"] == 30 and response.context["total"] == 30


def live_counts() -> dict:
    return dict(LiveArtifactCount.objects.values_list("user_id", "live"))


def visible_counts(*users) -> dict:
    return {u.pk: ModelArtifact.objects.visible_to(u).count() for u in users}


@pytest.mark.django_db
def test_the_live_count_stays_exact_whatever_writes_the_rows(alice, bob, alice_client):
    from tests.factories import make_artifact

    made = bulk_artifacts(alice, 10)  # bulk_create
    make_artifact(alice)  # save()
    make_artifact(bob)
    assert live_counts() == visible_counts(alice, bob) == {alice.pk: 11, bob.pk: 1}

    ModelArtifact.objects.filter(pk__in=[made[0].pk, made[1].pk]).update(deleted_at=timezone.now())  # soft delete
    made[2].deleted_at = timezone.now()
    made[2].save()
    ModelArtifact.objects.filter(pk=made[0].pk).update(deleted_at=timezone.now())  # deleted again: no change
    assert live_counts() == visible_counts(alice, bob) == {alice.pk: 8, bob.pk: 1}

    ModelArtifact.objects.filter(pk=made[1].pk).update(deleted_at=None)  # restored
    ModelArtifact.objects.filter(pk=made[3].pk).update(user=bob)  # handed over
    ModelArtifact.objects.filter(pk=made[0].pk).delete()  # a deleted one removed: no change
    ModelArtifact.objects.filter(pk=made[4].pk).delete()
    made[5].name = "renamed"
    made[5].save()  # other columns: no change
    assert live_counts() == visible_counts(alice, bob) == {alice.pk: 7, bob.pk: 2}

    assert alice_client.get("/api/models").json()["data"]["pagination"]["total"] == 7
    assert alice_client.get("/models").context["owned_total"] == 7


@pytest.mark.django_db
def test_filtered_totals_are_counted(alice, alice_client):
    bulk_artifacts(alice, 21)
    total = alice_client.get("/api/models?q=legal").json()["data"]["pagination"]["total"]
    assert total == 3 == ModelArtifact.objects.filter(name__icontains="legal").count()
    response = alice_client.get("/models?q=legal")
    assert response.context["total"] == 3 and response.context["owned_total"] == 21


@pytest.mark.django_db
def test_a_search_finds_what_a_case_insensitive_contains_finds(alice, bob, alice_client):
    from tests.factories import make_artifact

    names = ["Legal 50% off_v1", "legal 50 percent", "Back\\slash legal", "Émile LEGAL", "émile chat", "Straße"]
    for name in [*names, "plain"]:
        make_artifact(alice, name=name)
    make_artifact(bob, name="legal, but Bob's")
    make_artifact(alice, name="legal, but deleted", deleted_at=timezone.now())

    def found(q: str) -> set[str]:
        response = alice_client.get("/api/models", {"q": q, "limit": 100})
        assert response.status_code == 200, response.content
        return {m["name"] for m in response.json()["data"]["models"]}

    for q in ["legal", "LEGAL", "50%", "%", "_", "f_v", "\\", "émile", "ÉMILE", "straße", "STRASSE", "e", "zzz"]:
        expected = set(ModelArtifact.objects.visible_to(alice).filter(name__icontains=q).values_list("name", flat=True))
        assert found(q) == expected, q
        assert {m.name for m in alice_client.get("/models", {"q": q}).context["models"]} == expected, q
    # Wildcards in the search are plain characters; case does not matter (ASCII, on every database).
    assert found("50%") == {"Legal 50% off_v1"}
    assert found("f_v") == {"Legal 50% off_v1"}
    assert found("%") == {"Legal 50% off_v1"}
    assert found("LeGaL") == {"Legal 50% off_v1", "legal 50 percent", "Back\\slash legal", "Émile LEGAL"}

    # The searched text follows the name, however it is written.
    plain = ModelArtifact.objects.get(name="plain")
    plain.name = "Poetry plain"
    plain.save()
    ModelArtifact.objects.filter(name="Straße").update(name="poetry street")
    assert found("poetry") == {"Poetry plain", "poetry street"}
    assert alice_client.get("/api/models", {"q": "POETRY"}).json()["data"]["pagination"]["total"] == 2


def facet_counts(*users) -> dict:
    """The users' stored facet counts, without the zeros a model leaving a facet value leaves behind."""
    rows = ArtifactFacetCount.objects.filter(user__in=users).values_list("user_id", "facet", "value", "live")
    return {(user, facet, value): live for user, facet, value, live in rows if live}


def true_facet_counts(*users) -> dict:
    counts: dict = {}
    for user in users:
        for model in ModelArtifact.objects.visible_to(user):
            label = (model.quality_metrics or {}).get("convergence_quality")
            pairs = [("score", str(model.quality_score)), ("verdict", model.verdict)]
            pairs += [("convergence", label)] if isinstance(label, str) else []
            for facet, value in pairs:
                counts[(user.pk, facet, value)] = counts.get((user.pk, facet, value), 0) + 1
    return counts


def search_names(*users) -> set:
    rows = ArtifactSearchName.objects.filter(user__in=users).values_list("artifact_id", "user_id", "search_name")
    return set(rows)


def true_search_names(*users) -> set:
    return {
        (model.pk, user.pk, model.name.upper()) for user in users for model in ModelArtifact.objects.visible_to(user)
    }


def assert_counted_exactly(*users) -> None:
    """The facet counts and the table of live names hold what the rows say."""
    assert facet_counts(*users) == true_facet_counts(*users)
    assert search_names(*users) == true_search_names(*users)


@pytest.mark.django_db(transaction=True)
def test_the_facet_counts_and_live_names_stay_exact_whatever_writes_the_rows(alice, bob, alice_client):
    from tests.factories import make_artifact

    made = bulk_artifacts(alice, 10)
    make_artifact(alice, quality_metrics={"convergence_quality": "overfitting detected"})
    make_artifact(alice, quality_metrics={"convergence_quality": 3})  # not a label: not counted
    make_artifact(bob, verdict="unusable")
    assert_counted_exactly(alice, bob)
    assert facet_counts(alice)[(alice.pk, "convergence", "good")] == 10
    make_artifact(alice, name="Legal 100%_v2")  # LIKE's own characters, searched for as text
    make_artifact(alice, name="Stored already deleted", deleted_at=timezone.now())

    ModelArtifact.objects.filter(pk=made[0].pk).update(quality_score=1, verdict="warnings")
    ModelArtifact.objects.filter(pk=made[1].pk).update(quality_metrics={"convergence_quality": "poor"})
    made[2].deleted_at = timezone.now()
    made[2].save()
    ModelArtifact.objects.filter(pk=made[3].pk).update(user=bob)
    ModelArtifact.objects.filter(pk=made[2].pk).update(quality_score=5)  # deleted: counts nothing
    ModelArtifact.objects.filter(pk=made[4].pk).delete()
    made[5].name = "renamed"
    made[5].save()
    assert_counted_exactly(alice, bob)

    ModelArtifact.objects.filter(pk=made[2].pk).update(deleted_at=None)  # restored, with its new score
    assert alice_client.delete(f"/api/models/{made[6].pk}").status_code in (200, 204)
    assert_counted_exactly(alice, bob)

    mine = ModelArtifact.objects.visible_to(alice)
    for query, matching in (
        ("min_score=3", mine.filter(quality_score__gte=3)),
        ("verdict=ok,warnings", mine.filter(verdict__in=["ok", "warnings"])),
        ("convergence=good", mine.filter(quality_metrics__convergence_quality="good")),
        ("min_score=3&verdict=ok", mine.filter(quality_score__gte=3, verdict="ok")),
        ("q=RENAMED", mine.filter(name__icontains="renamed")),
        ("q=e", mine.filter(name__icontains="e")),
        ("q=0%25_v", mine.filter(name__icontains="0%_v")),
        ("q=renamed&min_score=1", mine.filter(name__icontains="renamed", quality_score__gte=1)),
    ):
        total = alice_client.get(f"/api/models?{query}").json()["data"]["pagination"]["total"]
        assert total == matching.count() > 0, query
        assert alice_client.get(f"/models?{query}").context["total"] == total, query

    bob_id = bob.pk
    bob.delete()  # the account and its models go; its counts stay behind at zero
    assert_counted_exactly(alice)
    assert not ArtifactSearchName.objects.filter(user_id=bob_id).exists()
    assert not ArtifactFacetCount.objects.filter(user_id=bob_id).exclude(live=0).exists()

    ArtifactFacetCount.objects.filter(user=alice).delete()  # a count the rows were never counted in
    ModelArtifact.objects.filter(pk=made[7].pk).delete()
    assert not ArtifactFacetCount.objects.filter(live__lt=0).exists()  # lowered only where it exists
