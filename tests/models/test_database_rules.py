import pytest
from django.db import IntegrityError, transaction

from artifacts.models import ArtifactFile, ModelArtifact
from tests.factories import add_file, make_artifact, make_dataset, make_job


@pytest.mark.django_db
def test_one_artifact_per_job_is_enforced_by_the_database(alice):
    job = make_job(alice, make_dataset(alice))
    make_artifact(alice, job)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelArtifact.objects.create(user=alice, job=job, name="duplicate")
    assert ModelArtifact.objects.filter(job=job).count() == 1


@pytest.mark.django_db
def test_file_names_are_unique_within_an_artifact(alice):
    artifact = make_artifact(alice)
    add_file(artifact, "adapter_config.json", b"{}")
    with pytest.raises(IntegrityError), transaction.atomic():
        ArtifactFile.objects.create(
            artifact=artifact, filename="adapter_config.json", key="other/key", size=2, sha256="0" * 64
        )


@pytest.mark.django_db
def test_visible_to_scopes_to_owner_and_hides_soft_deleted(alice, bob):
    from django.contrib.auth.models import AnonymousUser
    from django.utils import timezone

    mine = make_artifact(alice)
    deleted = make_artifact(alice, deleted_at=timezone.now())
    theirs = make_artifact(bob)
    assert list(ModelArtifact.objects.visible_to(alice)) == [mine]
    assert list(ModelArtifact.objects.visible_to(bob)) == [theirs]
    assert not ModelArtifact.objects.visible_to(AnonymousUser()).exists()
    assert deleted.is_deleted


@pytest.mark.django_db
def test_tables_use_the_seed_names():
    from pipeline.models import Dataset, MetricsPoint, Notification, TrainingJob

    assert Dataset._meta.db_table == "lora_datasets"
    assert TrainingJob._meta.db_table == "lora_training_jobs"
    assert MetricsPoint._meta.db_table == "lora_metrics_points"
    assert Notification._meta.db_table == "lora_notifications"
    assert ModelArtifact._meta.db_table == "lora_model_artifacts"
    assert TrainingJob._meta.get_field("artifact").column == "artifact_id"


@pytest.mark.django_db
def test_user_has_uuid_primary_key(alice):
    import uuid

    assert isinstance(alice.pk, uuid.UUID)
    assert alice.check_password("alice-password-1")
