# Storage use per user as counters (``StorageUsage``), filled from the rows that exist: models
# (deleted ones until purged), files and ready zip bundles. Three grouped aggregates, one insert
# per 1,000 users; SQLite and PostgreSQL alike. Writes made by the previous release while this runs
# do not touch the counters: run ``manage.py recount_storage`` once the new release serves.

import django.db.models.deletion
import django.db.models.expressions
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, Sum

BATCH = 1000


def fill_counters(apps, schema_editor):
    ModelArtifact = apps.get_model("artifacts", "ModelArtifact")
    ArtifactFile = apps.get_model("artifacts", "ArtifactFile")
    Bundle = apps.get_model("artifacts", "Bundle")
    StorageUsage = apps.get_model("artifacts", "StorageUsage")
    counters: dict = {}

    def put(user_id, **values):
        counters.setdefault(user_id, {}).update(values)

    for row in ModelArtifact.objects.order_by().values("user_id").annotate(n=Count("id")):
        put(row["user_id"], model_count=row["n"])
    files = ArtifactFile.objects.order_by().values("artifact__user_id").annotate(n=Count("id"), size=Sum("size"))
    for row in files:
        put(row["artifact__user_id"], file_count=row["n"], file_bytes=row["size"] or 0)
    ready = Bundle.objects.filter(state="ready").order_by().values("artifact__user_id").annotate(size=Sum("size"))
    for row in ready:
        put(row["artifact__user_id"], bundle_bytes=row["size"] or 0)
    StorageUsage.objects.bulk_create(
        (StorageUsage(user_id=user_id, **values) for user_id, values in counters.items()), batch_size=BATCH
    )


class Migration(migrations.Migration):

    dependencies = [
        ('artifacts', '0009_verdict'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='StorageUsage',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='storage_usage', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('model_count', models.BigIntegerField(default=0, help_text='Models stored, deleted ones until purged', verbose_name='models')),
                ('file_count', models.BigIntegerField(default=0, verbose_name='files')),
                ('file_bytes', models.BigIntegerField(default=0)),
                ('bundle_bytes', models.BigIntegerField(default=0, help_text='Ready zip bundles')),
                ('stored_bytes', models.GeneratedField(db_persist=True, expression=django.db.models.expressions.CombinedExpression(models.F('file_bytes'), '+', models.F('bundle_bytes')), output_field=models.BigIntegerField())),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'db_table': 'lora_storage_usage',
                'indexes': [models.Index(fields=['-stored_bytes', 'user'], name='storage_usage_bytes_idx')],
            },
        ),
        migrations.RunPython(fill_counters, migrations.RunPython.noop),
    ]
