# The models list at scale (DESIGN §13): indexes matching its orderings over live rows, a trigram
# index for name search on PostgreSQL, and an exact per-user count kept by triggers.

import django.db.models.deletion
from django.conf import settings
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# Name search (``name__icontains``, compiled to ``UPPER(name::text) LIKE UPPER(%s)``) over live rows:
# a trigram index on that same expression. PostgreSQL only; other databases scan.
TRIGRAM_INDEX = (
    "CREATE INDEX IF NOT EXISTS artifact_live_name_trgm_idx ON lora_model_artifacts "
    "USING gin ((UPPER(name::text)) gin_trgm_ops) WHERE deleted_at IS NULL"
)

# lora_artifact_counts.live = the user's rows with deleted_at IS NULL, in the writer's transaction.
UPDATE_CHANGES_COUNT = "OLD.user_id IS DISTINCT FROM NEW.user_id OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
POSTGRES_TRIGGERS = [
    """
    CREATE OR REPLACE FUNCTION lora_artifact_count_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF OLD.deleted_at IS NULL THEN
                UPDATE lora_artifact_counts SET live = live - 1 WHERE user_id = OLD.user_id;
            END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF NEW.deleted_at IS NULL THEN
                INSERT INTO lora_artifact_counts (user_id, live) VALUES (NEW.user_id, 1)
                ON CONFLICT (user_id) DO UPDATE SET live = lora_artifact_counts.live + 1;
            END IF;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER lora_artifact_count_insert AFTER INSERT ON lora_model_artifacts FOR EACH ROW "
    "WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION lora_artifact_count_sync()",
    "CREATE TRIGGER lora_artifact_count_delete AFTER DELETE ON lora_model_artifacts FOR EACH ROW "
    "WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION lora_artifact_count_sync()",
    "CREATE TRIGGER lora_artifact_count_update AFTER UPDATE OF user_id, deleted_at ON lora_model_artifacts "
    f"FOR EACH ROW WHEN ({UPDATE_CHANGES_COUNT}) EXECUTE FUNCTION lora_artifact_count_sync()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS lora_artifact_count_insert ON lora_model_artifacts",
    "DROP TRIGGER IF EXISTS lora_artifact_count_delete ON lora_model_artifacts",
    "DROP TRIGGER IF EXISTS lora_artifact_count_update ON lora_model_artifacts",
    "DROP FUNCTION IF EXISTS lora_artifact_count_sync()",
]
SQLITE_ADD = """
    INSERT INTO lora_artifact_counts (user_id, live) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET live = live + 1;"""
SQLITE_REMOVE = """
    UPDATE lora_artifact_counts SET live = live - 1 WHERE user_id = OLD.user_id;"""
SQLITE_TRIGGERS = [
    "CREATE TRIGGER lora_artifact_count_insert AFTER INSERT ON lora_model_artifacts "
    f"WHEN NEW.deleted_at IS NULL BEGIN {SQLITE_ADD} END",
    "CREATE TRIGGER lora_artifact_count_delete AFTER DELETE ON lora_model_artifacts "
    f"WHEN OLD.deleted_at IS NULL BEGIN {SQLITE_REMOVE} END",
    "CREATE TRIGGER lora_artifact_count_update_old AFTER UPDATE OF user_id, deleted_at ON lora_model_artifacts "
    f"WHEN ({UPDATE_CHANGES_COUNT}) AND OLD.deleted_at IS NULL BEGIN {SQLITE_REMOVE} END",
    "CREATE TRIGGER lora_artifact_count_update_new AFTER UPDATE OF user_id, deleted_at ON lora_model_artifacts "
    f"WHEN ({UPDATE_CHANGES_COUNT}) AND NEW.deleted_at IS NULL BEGIN {SQLITE_ADD} END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS lora_artifact_count_{name}"
    for name in ("insert", "delete", "update_old", "update_new")
]
BACKFILL = (
    "INSERT INTO lora_artifact_counts (user_id, live) "
    "SELECT user_id, COUNT(*) FROM lora_model_artifacts WHERE deleted_at IS NULL GROUP BY user_id"
)


def add_search_index_and_counts(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(TRIGRAM_INDEX)
        # No write may slip between the backfill and the triggers.
        schema_editor.execute("LOCK TABLE lora_model_artifacts IN SHARE ROW EXCLUSIVE MODE")
        statements = POSTGRES_TRIGGERS
    elif vendor == "sqlite":
        statements = SQLITE_TRIGGERS
    else:
        raise NotImplementedError(f"the live artifact count has no triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)
    schema_editor.execute(BACKFILL)


def drop_search_index_and_counts(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS artifact_live_name_trgm_idx")
    for statement in POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('artifacts', '0005_bundles_lifecycle'),
        ('pipeline', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        TrigramExtension(),  # does nothing on databases other than PostgreSQL
        migrations.RemoveIndex(
            model_name='modelartifact',
            name='artifact_user_recent_idx',
        ),
        migrations.RemoveIndex(
            model_name='modelartifact',
            name='artifact_user_quality_idx',
        ),
        migrations.AddIndex(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', '-created_at', '-id'], include=['name'], name='artifact_live_recent_idx'),
        ),
        migrations.AddIndex(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', '-quality_score', '-created_at', '-id'], include=['name'], name='artifact_live_quality_idx'),
        ),
        migrations.AddIndex(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', 'dataset'], name='artifact_live_dataset_idx'),
        ),
        migrations.CreateModel(
            name='LiveArtifactCount',
            fields=[
                ('user', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('live', models.BigIntegerField(default=0)),
            ],
            options={
                'db_table': 'lora_artifact_counts',
            },
        ),
        migrations.RunPython(add_search_index_and_counts, drop_search_index_and_counts),
    ]
