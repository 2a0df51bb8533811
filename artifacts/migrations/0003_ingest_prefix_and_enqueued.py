import uuid

from django.db import migrations, models


def give_each_ingest_its_own_prefix(apps, schema_editor):
    ArtifactIngest = apps.get_model("artifacts", "ArtifactIngest")
    for ingest in ArtifactIngest.objects.only("pk").iterator():
        ArtifactIngest.objects.filter(pk=ingest.pk).update(artifact_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("artifacts", "0002_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="artifactingest",
            name="artifact_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_ingest_its_own_prefix, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="artifactingest",
            name="artifact_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        migrations.AddField(
            model_name="artifactingest",
            name="enqueued_at",
            field=models.DateTimeField(blank=True, help_text="When a task was last queued for it", null=True),
        ),
    ]
