"""Migration 0012 puts every existing model into a repository, gives it a commit and sets ``main``."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("artifacts", "0011_scale_indexes")]
AFTER = [("artifacts", "0012_repositories")]

pytestmark = pytest.mark.django_db(transaction=True)


def migrate_to(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_state():
    apps = migrate_to(BEFORE)
    yield apps
    migrate_to(executor_leaf_nodes())


def executor_leaf_nodes():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def make_old(apps, user, dataset, *, hyper=None, verdict="ok", age_days=0, deleted=False):
    TrainingJob = apps.get_model("pipeline", "TrainingJob")
    ModelArtifact = apps.get_model("artifacts", "ModelArtifact")
    job = TrainingJob.objects.create(
        user_id=user.pk,
        dataset_id=dataset.pk if dataset else None,
        status="completed",
        preset_id="balanced",
        hyperparameters=hyper or {"rank": 16},
        gpu_config={},
    )
    now = timezone.now()
    return ModelArtifact.objects.create(
        id=uuid.uuid4(),
        user_id=user.pk,
        job_id=job.pk,
        dataset_id=dataset.pk if dataset else None,
        name=f"model {job.pk}",
        verdict=verdict,
        created_at=now - timedelta(days=age_days),
        deleted_at=now if deleted else None,
    )


def test_existing_models_join_repositories_with_commits_and_main(old_state):
    apps = old_state
    User = apps.get_model("accounts", "User")
    Dataset = apps.get_model("pipeline", "Dataset")
    alice = User.objects.create(username="alice")
    bob = User.objects.create(username="bob")
    support = Dataset.objects.create(user_id=alice.pk, name="Support Chats (EN)")
    bobs = Dataset.objects.create(user_id=bob.pk, name="Support Chats (EN)")
    old_ok = make_old(apps, alice, support, age_days=5)
    middle_ok = make_old(apps, alice, support, age_days=3)
    newest_unusable = make_old(apps, alice, support, verdict="unusable", age_days=1)
    newest_deleted = make_old(apps, alice, support, age_days=0, deleted=True)
    named = make_old(apps, alice, support, hyper={"rank": 8, "repository": "alice/triage-bot"})
    only_unusable = make_old(apps, alice, None, verdict="unusable")
    bobs_model = make_old(apps, bob, bobs)

    apps = migrate_to(AFTER)
    ModelArtifact = apps.get_model("artifacts", "ModelArtifact")
    Repository = apps.get_model("artifacts", "Repository")
    Alias = apps.get_model("artifacts", "Alias")
    AliasMove = apps.get_model("artifacts", "AliasMove")

    def repo_of(artifact):
        row = ModelArtifact.objects.get(pk=artifact.pk)
        return Repository.objects.get(pk=row.repository_id)

    support_repo = repo_of(old_ok)
    assert (support_repo.user_id, support_repo.name) == (alice.pk, "support-chats-en-lora")
    for artifact in (middle_ok, newest_unusable, newest_deleted):
        assert repo_of(artifact).pk == support_repo.pk
    assert repo_of(named).name == "triage-bot"
    assert repo_of(only_unusable).name == "adapters"
    bobs_repo = repo_of(bobs_model)
    assert (bobs_repo.user_id, bobs_repo.name) == (bob.pk, "support-chats-en-lora")
    assert bobs_repo.pk != support_repo.pk

    for row in ModelArtifact.objects.all():
        assert row.commit == hashlib.sha1(str(row.pk).encode(), usedforsecurity=False).hexdigest()
    # main: the newest live revision that is not unusable; none in a repository of unusable ones.
    main = Alias.objects.get(repository_id=support_repo.pk, name="main")
    assert main.artifact_id == middle_ok.pk
    assert not Alias.objects.filter(repository_id=repo_of(only_unusable).pk).exists()
    move = AliasMove.objects.get(repository_id=support_repo.pk)
    assert (move.alias, move.from_artifact_id, move.to_artifact_id) == ("main", None, middle_ok.pk)
    assert move.to_commit == ModelArtifact.objects.get(pk=middle_ok.pk).commit

    # The live-count triggers survive the table rebuilds: a new model still counts.
    Count = apps.get_model("artifacts", "LiveArtifactCount")
    before = Count.objects.get(user_id=alice.pk).live
    TrainingJob = apps.get_model("pipeline", "TrainingJob")
    job = TrainingJob.objects.create(
        user_id=alice.pk, status="completed", preset_id="p", hyperparameters={}, gpu_config={}
    )
    ModelArtifact.objects.create(
        id=uuid.uuid4(), user_id=alice.pk, job_id=job.pk, name="new", repository_id=support_repo.pk, commit="a" * 40
    )
    assert Count.objects.get(user_id=alice.pk).live == before + 1


def test_commit_is_unique_and_required_after_the_migration(old_state):
    from django.db import IntegrityError, transaction

    apps = migrate_to(AFTER)
    User = apps.get_model("accounts", "User")
    TrainingJob = apps.get_model("pipeline", "TrainingJob")
    ModelArtifact = apps.get_model("artifacts", "ModelArtifact")
    Repository = apps.get_model("artifacts", "Repository")
    alice = User.objects.create(username="alice")
    repo = Repository.objects.create(user_id=alice.pk, name="r")
    jobs = [
        TrainingJob.objects.create(
            user_id=alice.pk, status="completed", preset_id="p", hyperparameters={}, gpu_config={}
        )
        for _ in range(2)
    ]
    ModelArtifact.objects.create(
        id=uuid.uuid4(), user_id=alice.pk, job_id=jobs[0].pk, name="a", repository_id=repo.pk, commit="b" * 40
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelArtifact.objects.create(
            id=uuid.uuid4(), user_id=alice.pk, job_id=jobs[1].pk, name="b", repository_id=repo.pk, commit="b" * 40
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelArtifact.objects.create(
            id=uuid.uuid4(), user_id=alice.pk, job_id=jobs[1].pk, name="b", repository_id=None, commit="c" * 40
        )
    # A second repository of the same name for one owner, in another case, is refused.
    with pytest.raises(IntegrityError), transaction.atomic():
        Repository.objects.create(user_id=alice.pk, name="R")


def test_the_migration_unapplies_and_applies_again(old_state):
    migrate_to(AFTER)
    migrate_to(BEFORE)
    migrate_to(AFTER)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert "lora_repositories" in tables
