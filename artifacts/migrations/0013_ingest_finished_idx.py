# The admin overview reads the attempts finished in its window (success rate, durations) from an
# index carrying their state and start, instead of scanning every ingest ever run. Built
# CONCURRENTLY on PostgreSQL (writes go on while it builds), hence not atomic.

from django.db import migrations, models

from pipeline.lib.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("artifacts", "0012_repositories"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="artifactingest",
            index=models.Index(fields=["finished_at"], include=("state", "started_at"), name="ingest_finished_idx"),
        ),
    ]
