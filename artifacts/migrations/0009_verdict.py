# The stored verdict (DESIGN §14), filled for existing models from their inspection and health.

import importlib

from django.conf import settings
from django.db import migrations, models

BATCH = 1000
SEARCH_NAME = importlib.import_module("artifacts.migrations.0008_search_name")


def fill_verdicts(apps, schema_editor):
    from artifacts.health.verdict import model_verdict

    ModelArtifact = apps.get_model("artifacts", "ModelArtifact")
    rows = ModelArtifact.objects.only("id", "inspection", "training_health").order_by("pk")
    changed = []
    for artifact in rows.iterator(chunk_size=BATCH):
        verdict = model_verdict(artifact.inspection, artifact.training_health)
        if verdict != "ok":
            artifact.verdict = verdict
            changed.append(artifact)
        if len(changed) >= BATCH:
            ModelArtifact.objects.bulk_update(changed, ["verdict"])
            changed = []
    ModelArtifact.objects.bulk_update(changed, ["verdict"])


class Migration(migrations.Migration):

    dependencies = [
        ('artifacts', '0008_search_name'),
        ('pipeline', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # SQLite rebuilds the table to add the column, dropping 0006's live-count triggers with the
        # old table (see 0008); they are created again after it, and before it when unapplying.
        migrations.RunPython(migrations.RunPython.noop, SEARCH_NAME.restore_sqlite_count_triggers),
        migrations.AddField(
            model_name='modelartifact',
            name='verdict',
            field=models.CharField(default='ok', max_length=16),
        ),
        migrations.RunPython(SEARCH_NAME.restore_sqlite_count_triggers, migrations.RunPython.noop),
        migrations.RunPython(fill_verdicts, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', 'verdict', '-created_at', '-id'], name='artifact_live_verdict_idx'),
        ),
    ]
