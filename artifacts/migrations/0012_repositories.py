# Repositories, revisions and aliases (DESIGN §15). Every existing model joins its owner's repository
# (named after its job's ``hyperparameters.repository``, else its dataset + "-lora"), gets its commit
# (sha1 of its id), and each repository's ``main`` points at its newest live revision whose verdict
# is not ``unusable``. Then the two new columns become NOT NULL.
#
# Not atomic: on PostgreSQL the indexes on lora_model_artifacts are built CONCURRENTLY (writes go on
# while they build); the data fill runs in its own transaction. On SQLite adding or altering a
# column rebuilds the table and drops 0006's live-count triggers: they are created again (see 0008).

import hashlib
import importlib

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import artifacts.models.registry
from pipeline.lib.migration_operations import AddIndexConcurrentlyOnPostgres

BATCH = 1000
SEARCH_NAME = importlib.import_module("artifacts.migrations.0008_search_name")
COMMIT_INDEX = "lora_model_artifacts_commit_key"
MIGRATED_NOTE = "set when repositories were introduced"


def add_commit_unique(apps, schema_editor):
    """``commit`` unique: on PostgreSQL the index is built concurrently, then becomes the constraint."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{COMMIT_INDEX}" ON lora_model_artifacts ("commit")'
        )
        schema_editor.execute(
            f'ALTER TABLE lora_model_artifacts ADD CONSTRAINT "{COMMIT_INDEX}" UNIQUE USING INDEX "{COMMIT_INDEX}"'
        )
    else:
        schema_editor.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "{COMMIT_INDEX}" ON lora_model_artifacts ("commit")')


def drop_commit_unique(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'ALTER TABLE lora_model_artifacts DROP CONSTRAINT IF EXISTS "{COMMIT_INDEX}"')
    schema_editor.execute(f'DROP INDEX IF EXISTS "{COMMIT_INDEX}"')


def fill_repositories(apps, schema_editor):
    from artifacts.models.registry import MAIN, default_repository_name

    ModelArtifact = apps.get_model("artifacts", "ModelArtifact")
    Repository = apps.get_model("artifacts", "Repository")
    Alias = apps.get_model("artifacts", "Alias")
    AliasMove = apps.get_model("artifacts", "AliasMove")

    repositories = {}  # (user_id, lower-case name) -> Repository
    rows = (
        ModelArtifact.objects.select_related("dataset", "job", "job__dataset")
        .only(
            "id", "user_id", "created_at", "dataset__name", "job__hyperparameters", "job__dataset__name"
        )
        .order_by("created_at", "pk")
    )
    changed = []
    for artifact in rows.iterator(chunk_size=BATCH):
        dataset = artifact.dataset or artifact.job.dataset
        name = default_repository_name(dataset.name if dataset else None, artifact.job.hyperparameters)
        key = (artifact.user_id, name.lower())
        repository = repositories.get(key)
        if repository is None:
            # Oldest first: a repository is as old as its first revision.
            repository = Repository.objects.create(user_id=artifact.user_id, name=name, created_at=artifact.created_at)
            repositories[key] = repository
        artifact.repository_id = repository.pk
        artifact.commit = hashlib.sha1(str(artifact.pk).encode(), usedforsecurity=False).hexdigest()
        changed.append(artifact)
        if len(changed) >= BATCH:
            ModelArtifact.objects.bulk_update(changed, ["repository", "commit"])
            changed = []
    ModelArtifact.objects.bulk_update(changed, ["repository", "commit"])

    now = django.utils.timezone.now()
    for repository in repositories.values():
        newest = (
            ModelArtifact.objects.filter(repository_id=repository.pk, deleted_at__isnull=True)
            .exclude(verdict="unusable")
            .order_by("-created_at", "-pk")
            .only("id", "commit")
            .first()
        )
        if newest is None:
            continue
        Alias.objects.create(repository=repository, name=MAIN, artifact_id=newest.pk, updated_at=now)
        AliasMove.objects.create(
            repository=repository, alias=MAIN, to_artifact_id=newest.pk, to_commit=newest.commit, at=now,
            note=MIGRATED_NOTE,
        )


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('artifacts', '0011_scale_indexes'),
        ('pipeline', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Undoing this migration rebuilds the SQLite table too: this runs last when unapplying.
        migrations.RunPython(migrations.RunPython.noop, SEARCH_NAME.restore_sqlite_count_triggers),
        migrations.CreateModel(
            name='Repository',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=96)),
                ('description', models.TextField(blank=True, default='')),
                ('main_pinned', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='repositories', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name_plural': 'repositories',
                'db_table': 'lora_repositories',
                'ordering': ['name'],
                'constraints': [
                    models.UniqueConstraint(models.F('user'), django.db.models.functions.text.Lower('name'), name='repository_unique_name_per_owner'),
                ],
            },
        ),
        # Nullable first (no table rebuild, no default to write), filled below, then NOT NULL.
        migrations.AddField(
            model_name='modelartifact',
            name='repository',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.RESTRICT, related_name='revisions', to='artifacts.repository'),
        ),
        migrations.AddField(
            model_name='modelartifact',
            name='commit',
            field=models.CharField(editable=False, max_length=40, null=True),
        ),
        migrations.RunPython(SEARCH_NAME.restore_sqlite_count_triggers, migrations.RunPython.noop),
        migrations.CreateModel(
            name='AliasMove',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('alias', models.CharField(max_length=63)),
                ('from_commit', models.CharField(blank=True, default='', max_length=40)),
                ('to_commit', models.CharField(blank=True, default='', max_length=40)),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('forced', models.BooleanField(default=False, help_text='Moved to an unusable revision on purpose')),
                ('note', models.CharField(blank=True, default='', max_length=200)),
                ('by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('from_artifact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='artifacts.modelartifact')),
                ('to_artifact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='artifacts.modelartifact')),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alias_moves', to='artifacts.repository')),
            ],
            options={
                'db_table': 'lora_alias_moves',
                'ordering': ['-at', '-id'],
                'indexes': [models.Index(fields=['repository', '-at', '-id'], name='alias_move_history_idx')],
            },
        ),
        migrations.CreateModel(
            name='Alias',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=63)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('artifact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='aliases', to='artifacts.modelartifact')),
                ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('repository', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='aliases', to='artifacts.repository')),
            ],
            options={
                'verbose_name_plural': 'aliases',
                'db_table': 'lora_repository_aliases',
                'ordering': ['name'],
                'constraints': [
                    models.UniqueConstraint(fields=('repository', 'name'), name='alias_unique_name_per_repository'),
                ],
            },
        ),
        migrations.RunPython(fill_repositories, migrations.RunPython.noop, atomic=True),
        migrations.AlterField(
            model_name='modelartifact',
            name='repository',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.RESTRICT, related_name='revisions', to='artifacts.repository'),
        ),
        migrations.AlterField(
            model_name='modelartifact',
            name='commit',
            field=models.CharField(default=artifacts.models.registry.new_commit, editable=False, max_length=40),
        ),
        migrations.RunPython(SEARCH_NAME.restore_sqlite_count_triggers, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='modelartifact',
                    name='commit',
                    field=models.CharField(default=artifacts.models.registry.new_commit, editable=False, max_length=40, unique=True),
                ),
            ],
            database_operations=[migrations.RunPython(add_commit_unique, drop_commit_unique)],
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='modelartifact',
            index=models.Index(fields=['repository', '-created_at', '-id'], name='artifact_repository_recent_idx'),
        ),
    ]
