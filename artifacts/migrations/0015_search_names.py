# The total of a name search (``q=``) is counted from a narrow table of live names with a trigram
# index, kept by triggers, instead of rechecking the candidates in the models table's wide rows or
# testing every live name of the account (DESIGN §13).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# A row per live artifact: the trigger deletes an artifact's row when it is deleted, soft-deleted
# or changed, and writes it again when the artifact is (still) live. The rows are keyed by the
# artifact, so two writers of one artifact already wait for each other on the artifact's own row.
POSTGRES_TRIGGERS = [
    """
    CREATE OR REPLACE FUNCTION lora_artifact_search_name_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM lora_artifact_search_names WHERE artifact_id = OLD.id;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
            INSERT INTO lora_artifact_search_names (artifact_id, user_id, search_name)
            VALUES (NEW.id, NEW.user_id, NEW.search_name);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER lora_artifact_search_name_insert AFTER INSERT ON lora_model_artifacts FOR EACH ROW "
    "WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION lora_artifact_search_name_sync()",
    "CREATE TRIGGER lora_artifact_search_name_delete AFTER DELETE ON lora_model_artifacts FOR EACH ROW "
    "WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION lora_artifact_search_name_sync()",
    # Only when what the row holds changes: a save() writes every column.
    "CREATE TRIGGER lora_artifact_search_name_update AFTER UPDATE OF user_id, deleted_at, name "
    "ON lora_model_artifacts FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id "
    "OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) OR OLD.name IS DISTINCT FROM NEW.name) "
    "EXECUTE FUNCTION lora_artifact_search_name_sync()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS lora_artifact_search_name_insert ON lora_model_artifacts",
    "DROP TRIGGER IF EXISTS lora_artifact_search_name_delete ON lora_model_artifacts",
    "DROP TRIGGER IF EXISTS lora_artifact_search_name_update ON lora_model_artifacts",
    "DROP FUNCTION IF EXISTS lora_artifact_search_name_sync()",
]
# For ``ModelFilters.count``'s ``search_name LIKE '%Q%'`` (the list's own test, ``name_contains``),
# built after the backfill, on a table no one else writes yet.
POSTGRES_SEARCH_INDEX = (
    "CREATE INDEX artifact_search_trgm_idx ON lora_artifact_search_names USING gin (search_name gin_trgm_ops)"
)

SQLITE_INSERT = (
    "INSERT INTO lora_artifact_search_names (artifact_id, user_id, search_name) "
    "SELECT NEW.id, NEW.user_id, NEW.search_name WHERE NEW.deleted_at IS NULL;"
)
SQLITE_DELETE = "DELETE FROM lora_artifact_search_names WHERE artifact_id = OLD.id;"
SQLITE_TRIGGERS = [
    "CREATE TRIGGER lora_artifact_search_name_insert AFTER INSERT ON lora_model_artifacts "
    f"WHEN NEW.deleted_at IS NULL BEGIN {SQLITE_INSERT} END",
    "CREATE TRIGGER lora_artifact_search_name_delete AFTER DELETE ON lora_model_artifacts "
    f"WHEN OLD.deleted_at IS NULL BEGIN {SQLITE_DELETE} END",
    "CREATE TRIGGER lora_artifact_search_name_update AFTER UPDATE OF user_id, deleted_at, name "
    "ON lora_model_artifacts WHEN OLD.user_id IS NOT NEW.user_id "
    "OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) OR OLD.name IS NOT NEW.name "
    f"BEGIN {SQLITE_DELETE} {SQLITE_INSERT} END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS lora_artifact_search_name_{name}" for name in ("insert", "delete", "update")]

BACKFILL = (
    "INSERT INTO lora_artifact_search_names (artifact_id, user_id, search_name) "
    "SELECT id, user_id, search_name FROM lora_model_artifacts WHERE deleted_at IS NULL"
)


def add_search_names(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # No write may slip between the backfill and the triggers.
        schema_editor.execute("LOCK TABLE lora_model_artifacts IN SHARE ROW EXCLUSIVE MODE")
        statements = POSTGRES_TRIGGERS + [BACKFILL, POSTGRES_SEARCH_INDEX, "ANALYZE lora_artifact_search_names"]
    elif vendor == "sqlite":
        statements = SQLITE_TRIGGERS + [BACKFILL]
    else:
        raise NotImplementedError(f"the search names have no triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)


def restore_sqlite_search_name_triggers(apps, schema_editor):
    """For a later migration that rebuilds ``lora_model_artifacts`` on SQLite (as altering some of
    its columns does): the rebuild drops the table's triggers, so it runs this afterwards, as 0014's
    ``restore_sqlite_facet_triggers``. The rows stay right: the copy fires no trigger."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP + SQLITE_TRIGGERS:
            schema_editor.execute(statement)


def drop_search_names(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = (
        POSTGRES_DROP + ["DROP INDEX IF EXISTS artifact_search_trgm_idx"] if vendor == "postgresql" else SQLITE_DROP
    )
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("artifacts", "0014_facet_counts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ArtifactSearchName",
            fields=[
                (
                    "artifact",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="artifacts.modelartifact",
                    ),
                ),
                ("search_name", models.TextField()),
                (
                    "user",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "lora_artifact_search_names",
                "indexes": [models.Index(fields=["user"], include=("search_name",), name="artifact_search_user_idx")],
            },
        ),
        migrations.RunPython(add_search_names, drop_search_names),
    ]
