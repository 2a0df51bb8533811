"""Repositories and aliases as the services change them (DESIGN §15)."""

from __future__ import annotations

import re

import pytest
import responses

from artifacts.models import Alias, AliasMove, ModelArtifact, Repository
from artifacts.services import lifecycle, registry
from artifacts.services.ingest import ingest
from tests.factories import make_dataset, make_job
from tests.ingest_fakes import finished_job, serve, use_fake_cluster
from tests.registry.conftest import revision

pytestmark = pytest.mark.django_db


def aliases(repository):
    return dict(Alias.objects.filter(repository=repository).values_list("name", "artifact_id"))


def history(repository):
    return list(
        AliasMove.objects.filter(repository=repository)
        .order_by("at", "id")
        .values_list("alias", "from_artifact_id", "to_artifact_id", "by__username", "forced")
    )


@responses.activate
def test_an_ingested_model_joins_its_dataset_repository_and_main_follows_it(alice, settings):
    use_fake_cluster(settings)
    job = finished_job(alice)
    serve(responses)
    assert ingest(job).success
    artifact = ModelArtifact.objects.get(job=job)
    assert artifact.repository.full_name == "alice/support-chats-lora"
    assert re.fullmatch(r"[0-9a-f]{40}", artifact.commit)
    assert aliases(artifact.repository) == {"main": artifact.pk}
    assert history(artifact.repository) == [("main", None, artifact.pk, None, False)]


def test_the_job_can_name_the_repository(alice):
    job = make_job(alice, make_dataset(alice), hyperparameters={"rank": 8, "repository": "alice/Triage-Bot"})
    assert registry.repository_for_job(job).name == "Triage-Bot"
    bad = make_job(alice, make_dataset(alice), hyperparameters={"repository": "my bot!!"})
    assert registry.repository_for_job(bad).name == "my-bot"
    # Names are unique per owner regardless of case: the same repository again.
    again = make_job(alice, None, hyperparameters={"repository": "triage-bot"})
    assert registry.repository_for_job(again).pk == registry.repository_for_job(job).pk


def test_main_follows_the_newest_usable_revision_and_skips_unusable_ones(alice):
    dataset = make_dataset(alice)
    old = revision(alice, dataset, days_ago=3)
    repository = old.repository
    registry.follow_main(repository)
    assert aliases(repository) == {"main": old.pk}
    broken = revision(alice, dataset, days_ago=1, verdict="unusable")
    registry.follow_main(repository)
    assert aliases(repository) == {"main": old.pk}, "main never moves to an unusable revision on its own"
    newer = revision(alice, dataset, days_ago=0, verdict="warnings")
    registry.follow_main(repository)
    assert aliases(repository) == {"main": newer.pk}
    # Deleting the newest moves main back; restoring it brings main forward again.
    lifecycle.soft_delete(newer)
    assert aliases(repository) == {"main": old.pk}
    newer.refresh_from_db()
    lifecycle.restore(newer)
    assert aliases(repository) == {"main": newer.pk}
    assert broken.pk not in [move[2] for move in history(repository)]


def test_moving_an_alias_records_who_from_and_to(alice):
    dataset = make_dataset(alice)
    first = revision(alice, dataset, days_ago=2)
    second = revision(alice, dataset, days_ago=1)
    repository = first.repository
    registry.move_alias(alice, repository, "production", first)
    registry.move_alias(alice, repository, "production", second, note="better eval")
    registry.move_alias(alice, repository, "production", second)  # no change: nothing recorded
    assert aliases(repository)["production"] == second.pk
    assert [m for m in history(repository) if m[0] == "production"] == [
        ("production", None, first.pk, "alice", False),
        ("production", first.pk, second.pk, "alice", False),
    ]
    move = AliasMove.objects.filter(alias="production").order_by("-at", "-id").first()
    assert (move.from_commit, move.to_commit, move.note) == (first.commit, second.commit, "better eval")
    registry.remove_alias(alice, repository, "production")
    assert "production" not in aliases(repository)
    assert history(repository)[-1] == ("production", second.pk, None, "alice", False)
    with pytest.raises(registry.AliasNotFound):
        registry.remove_alias(alice, repository, "production")


def test_an_unusable_revision_needs_force(alice):
    dataset = make_dataset(alice)
    good = revision(alice, dataset, days_ago=1)
    broken = revision(alice, dataset, verdict="unusable")
    repository = good.repository
    with pytest.raises(registry.UnusableRevision, match="unusable"):
        registry.move_alias(alice, repository, "staging", broken)
    assert "staging" not in aliases(repository)
    registry.move_alias(alice, repository, "staging", broken, force=True)
    assert aliases(repository)["staging"] == broken.pk
    assert history(repository)[-1] == ("staging", None, broken.pk, "alice", True)


def test_moving_main_pins_it_and_removing_main_unpins_it(alice):
    dataset = make_dataset(alice)
    old = revision(alice, dataset, days_ago=2)
    repository = old.repository
    registry.move_alias(alice, repository, "main", old)
    repository.refresh_from_db()
    assert repository.main_pinned
    newer = revision(alice, dataset)
    registry.follow_main(repository)
    assert aliases(repository)["main"] == old.pk, "a pinned main stays"
    registry.remove_alias(alice, repository, "main")
    repository.refresh_from_db()
    assert not repository.main_pinned
    assert aliases(repository)["main"] == newer.pk


def test_alias_and_repository_names_are_checked(alice, bob):
    model = revision(alice)
    repository = model.repository
    for bad in ("", "Production", "-x", "a" * 64, "a b", "0" * 40):
        with pytest.raises(registry.InvalidName):
            registry.move_alias(alice, repository, bad, model)
    for bad in ("", "-x", "a--b", "a..b", "x.git", "a/b", "a" * 97, "é"):
        with pytest.raises(registry.InvalidName):
            registry.create_repository(alice, bad)
    created = registry.create_repository(alice, "Triage.v2_bot")
    with pytest.raises(registry.NameTaken):
        registry.create_repository(alice, "triage.V2_bot")
    assert registry.create_repository(bob, "triage.v2_bot").user == bob
    with pytest.raises(registry.NameTaken):
        registry.rename_repository(alice, created, repository.name.upper())
    registry.rename_repository(alice, created, "triage")
    assert Repository.objects.get(pk=created.pk).name == "triage"


def test_another_users_model_or_repository_cannot_be_aliased(alice, bob):
    mine = revision(alice)
    theirs = revision(bob)
    with pytest.raises(registry.NotARevision):
        registry.move_alias(alice, mine.repository, "production", theirs)
    with pytest.raises(Repository.DoesNotExist):
        registry.move_alias(alice, theirs.repository, "production", theirs)
    assert not Alias.objects.filter(name="production").exists()


def test_moving_a_model_between_repositories(alice):
    dataset = make_dataset(alice)
    older = revision(alice, dataset, days_ago=1)
    model = revision(alice, dataset)
    source = model.repository
    registry.follow_main(source)
    registry.move_alias(alice, source, "production", model)
    target = registry.create_repository(alice, "elsewhere")
    registry.move_artifact(alice, model, target)
    assert ModelArtifact.objects.get(pk=model.pk).repository_id == target.pk
    assert aliases(source) == {"main": older.pk}
    assert aliases(target) == {"main": model.pk}
    assert ("production", model.pk, None, "alice", False) in history(source)
