# A models list filtered by one score, verdict or convergence label alone knows its length from
# per-user counts kept by triggers, as 0006 keeps the live count, instead of counting tens of
# thousands of index entries on every request (DESIGN §13).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# A row's facets as (facet, value): its convergence label (only when it is a string, as the list's
# filter only ever matches a string), its score and its verdict. A missing value is not counted.
PG_FACETS = """(VALUES
        ('convergence', CASE WHEN jsonb_typeof({row}.quality_metrics -> 'convergence_quality') = 'string'
                        THEN {row}.quality_metrics ->> 'convergence_quality' END),
        ('score', {row}.quality_score::text),
        ('verdict', {row}.verdict::text))"""
# The net changes, applied in (user, facet, value) order: two transactions moving the same counts
# lock them in the same order, so one waits for the other instead of deadlocking.
POSTGRES_TRIGGERS = [
    f"""
    CREATE OR REPLACE FUNCTION lora_artifact_facet_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        change record;
    BEGIN
        FOR change IN
            SELECT user_id, facet, value, SUM(delta) AS delta FROM (
                SELECT OLD.user_id AS user_id, f.facet, f.value, -1 AS delta
                FROM {PG_FACETS.format(row="OLD")} AS f(facet, value)
                WHERE TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL
                UNION ALL
                SELECT NEW.user_id, f.facet, f.value, 1
                FROM {PG_FACETS.format(row="NEW")} AS f(facet, value)
                WHERE TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL
            ) AS changes
            WHERE value IS NOT NULL
            GROUP BY user_id, facet, value
            HAVING SUM(delta) <> 0
            ORDER BY user_id, facet, value
        LOOP
            IF change.delta > 0 THEN
                INSERT INTO lora_artifact_facet_counts (user_id, facet, value, live)
                VALUES (change.user_id, change.facet, change.value, change.delta)
                ON CONFLICT (user_id, facet, value)
                DO UPDATE SET live = lora_artifact_facet_counts.live + EXCLUDED.live;
            ELSE  -- a count is only ever lowered, never created below zero
                UPDATE lora_artifact_facet_counts SET live = live + change.delta
                WHERE user_id = change.user_id AND facet = change.facet AND value = change.value;
            END IF;
        END LOOP;
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER lora_artifact_facet_insert AFTER INSERT ON lora_model_artifacts FOR EACH ROW "
    "WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION lora_artifact_facet_sync()",
    "CREATE TRIGGER lora_artifact_facet_delete AFTER DELETE ON lora_model_artifacts FOR EACH ROW "
    "WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION lora_artifact_facet_sync()",
    "CREATE TRIGGER lora_artifact_facet_update AFTER UPDATE OF user_id, deleted_at, quality_score, verdict, "
    "quality_metrics ON lora_model_artifacts FOR EACH ROW WHEN (OLD.deleted_at IS NULL OR NEW.deleted_at IS NULL) "
    "EXECUTE FUNCTION lora_artifact_facet_sync()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS lora_artifact_facet_insert ON lora_model_artifacts",
    "DROP TRIGGER IF EXISTS lora_artifact_facet_delete ON lora_model_artifacts",
    "DROP TRIGGER IF EXISTS lora_artifact_facet_update ON lora_model_artifacts",
    "DROP FUNCTION IF EXISTS lora_artifact_facet_sync()",
]
POSTGRES_BACKFILL = f"""
    INSERT INTO lora_artifact_facet_counts (user_id, facet, value, live)
    SELECT a.user_id, f.facet, f.value, COUNT(*)
    FROM lora_model_artifacts AS a, LATERAL {PG_FACETS.format(row="a")} AS f(facet, value)
    WHERE a.deleted_at IS NULL AND f.value IS NOT NULL
    GROUP BY a.user_id, f.facet, f.value
"""


def sqlite_pairs(row: str) -> tuple[tuple[str, str, str], ...]:
    """The same pairs for SQLite, once: (facet, value, when the row has one)."""
    return (
        (
            "convergence",
            f"json_extract({row}.quality_metrics, '$.convergence_quality')",
            f"json_type({row}.quality_metrics, '$.convergence_quality') = 'text'",
        ),
        ("score", f"CAST({row}.quality_score AS TEXT)", "1"),
        ("verdict", f"{row}.verdict", "1"),
    )


def sqlite_facets(row: str, where: str = "1", source: str = "") -> str:
    """``row``'s pairs as rows counting 1 each, when ``where`` holds (``source``: a FROM clause)."""
    return " UNION ALL ".join(
        f"SELECT {row}.user_id AS user_id, '{facet}' AS facet, {value} AS value, 1 AS n {source} "
        f"WHERE ({where}) AND {present}"
        for facet, value, present in sqlite_pairs(row)
    )


def sqlite_add(rows: str) -> str:
    return (
        f"INSERT INTO lora_artifact_facet_counts (user_id, facet, value, live) {rows} "
        "ON CONFLICT (user_id, facet, value) DO UPDATE SET live = live + excluded.live;"
    )


def sqlite_remove(row: str, where: str = "1") -> str:
    """Lower the counts of ``row``'s pairs when ``where`` holds (never creating a row below zero)."""
    matches = " OR ".join(
        f"(facet = '{facet}' AND {present} AND value = {value})" for facet, value, present in sqlite_pairs(row)
    )
    return (
        "UPDATE lora_artifact_facet_counts SET live = live - 1 "
        f"WHERE ({where}) AND user_id = {row}.user_id AND ({matches});"
    )


# SQLite runs one write transaction at a time: no lock order to keep.
SQLITE_TRIGGERS = [
    "CREATE TRIGGER lora_artifact_facet_insert AFTER INSERT ON lora_model_artifacts "
    f"WHEN NEW.deleted_at IS NULL BEGIN {sqlite_add(sqlite_facets('NEW'))} END",
    "CREATE TRIGGER lora_artifact_facet_delete AFTER DELETE ON lora_model_artifacts "
    f"WHEN OLD.deleted_at IS NULL BEGIN {sqlite_remove('OLD')} END",
    "CREATE TRIGGER lora_artifact_facet_update AFTER UPDATE OF user_id, deleted_at, quality_score, verdict, "
    "quality_metrics ON lora_model_artifacts WHEN OLD.deleted_at IS NULL OR NEW.deleted_at IS NULL BEGIN "
    f"{sqlite_remove('OLD', 'OLD.deleted_at IS NULL')} "
    f"{sqlite_add(sqlite_facets('NEW', 'NEW.deleted_at IS NULL'))} END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS lora_artifact_facet_{name}" for name in ("insert", "delete", "update")]
SQLITE_BACKFILL = sqlite_add(
    "SELECT user_id, facet, value, SUM(n) FROM ("
    + sqlite_facets("a", "a.deleted_at IS NULL", source="FROM lora_model_artifacts AS a")
    + ") WHERE true GROUP BY user_id, facet, value"
)


def add_facet_counts(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # No write may slip between the backfill and the triggers.
        schema_editor.execute("LOCK TABLE lora_model_artifacts IN SHARE ROW EXCLUSIVE MODE")
        statements, backfill = POSTGRES_TRIGGERS, POSTGRES_BACKFILL
    elif vendor == "sqlite":
        statements, backfill = SQLITE_TRIGGERS, SQLITE_BACKFILL
    else:
        raise NotImplementedError(f"the facet counts have no triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)
    schema_editor.execute(backfill)


def restore_sqlite_facet_triggers(apps, schema_editor):
    """For a later migration that rebuilds ``lora_model_artifacts`` on SQLite (as altering some of
    its columns does): the rebuild drops the table's triggers, so it runs this afterwards, as 0009
    and 0012 run 0008's ``restore_sqlite_count_triggers``. The counts stay right: the copy fires no
    trigger."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP + SQLITE_TRIGGERS:
            schema_editor.execute(statement)


def drop_facet_counts(apps, schema_editor):
    for statement in POSTGRES_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('artifacts', '0013_ingest_finished_idx'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ArtifactFacetCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('facet', models.CharField(max_length=16)),
                ('value', models.TextField()),
                ('live', models.BigIntegerField(default=0)),
                ('user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'lora_artifact_facet_counts',
                'constraints': [models.UniqueConstraint(fields=('user', 'facet', 'value'), name='artifact_facet_count_key')],
            },
        ),
        migrations.RunPython(add_facet_counts, drop_facet_counts),
    ]
