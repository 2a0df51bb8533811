# Name search at scale (DESIGN §13): the models list's ``q`` compares a stored UPPER(name)
# (``search_name``, a generated column) instead of upper-casing every candidate name, through a
# trigram index on that column (PostgreSQL only) and, for a broad search's first pages, through
# the list's ordering indexes, which now carry ``search_name`` instead of ``name``.

import importlib

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

LIST_INDEXES = importlib.import_module("artifacts.migrations.0006_list_indexes")

# What ``ModelArtifactQuerySet.name_contains`` asks on PostgreSQL (``search_name LIKE '%Q%'``),
# over live rows. It replaces 0006's index on the expression UPPER(name::text).
SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS artifact_live_search_trgm_idx ON lora_model_artifacts "
    "USING gin (search_name gin_trgm_ops) WHERE deleted_at IS NULL"
)


def search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS artifact_live_name_trgm_idx")
        schema_editor.execute(SEARCH_INDEX)


def name_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS artifact_live_search_trgm_idx")
        schema_editor.execute(LIST_INDEXES.TRIGRAM_INDEX)


def restore_sqlite_count_triggers(apps, schema_editor):
    """SQLite cannot add a stored generated column to a table: Django rebuilds the table (adding or
    removing ``search_name``), and the rebuild drops 0006's triggers with the old table. The live
    counts stay right (the copy fires no trigger); the triggers are created again."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in LIST_INDEXES.SQLITE_DROP + LIST_INDEXES.SQLITE_TRIGGERS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('artifacts', '0007_health_links_handed_out'),
        ('pipeline', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Undoing this migration rebuilds the SQLite table too: this runs last when unapplying.
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_count_triggers),
        migrations.RemoveIndex(
            model_name='modelartifact',
            name='artifact_live_recent_idx',
        ),
        migrations.RemoveIndex(
            model_name='modelartifact',
            name='artifact_live_quality_idx',
        ),
        migrations.AddField(
            model_name='modelartifact',
            name='search_name',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.text.Upper('name'), output_field=models.TextField()),
        ),
        migrations.AddIndex(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', '-created_at', '-id'], include=('search_name',), name='artifact_live_recent_idx'),
        ),
        migrations.AddIndex(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', '-quality_score', '-created_at', '-id'], include=('search_name',), name='artifact_live_quality_idx'),
        ),
        migrations.RunPython(restore_sqlite_count_triggers, migrations.RunPython.noop),
        migrations.RunPython(search_index, name_index),
    ]
