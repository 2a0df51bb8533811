# Beat's retention deletes the events older than WEBHOOK_EVENT_RETENTION_DAYS; it finds them through
# an index on their time instead of reading the whole outbox. Built CONCURRENTLY on PostgreSQL
# (writes go on while it builds), hence not atomic.

from django.db import migrations, models

from pipeline.lib.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0001_webhooks"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="event",
            index=models.Index(fields=["created_at"], name="webhook_event_created_idx"),
        ),
    ]
