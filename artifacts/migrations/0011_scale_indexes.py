# The list views at 100,000 models with realistic rows (issue 22, DESIGN §13): ``convergence=``
# counted and paged from an index (the label lives in the quality metrics JSON, which a scan reads
# from the heap row by row), and the owner's deleted models ("Recently deleted", ``?deleted=true``,
# the admin's count) from a small index of deleted rows instead of a scan of every row; the staff's
# models list in the admin (every user's models, newest first) walks an index instead of sorting
# the table. The verdict index of 0009 is built again, concurrently, carrying the quality score.
#
# Safe on a large table: on PostgreSQL each index is built with CREATE INDEX CONCURRENTLY (writes go
# on while it builds), which cannot run in a transaction, hence ``atomic = False``. Elsewhere
# (SQLite) a plain CREATE INDEX.

from django.conf import settings
from django.db import migrations, models

from pipeline.lib.migration_operations import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('artifacts', '0010_storage_usage'),
        ('pipeline', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The quality ordering's index again, carrying ``verdict``: ``verdict=ok&sort=quality`` walked
        # it reading every skipped row's verdict from the heap (the usable models are rarely the best
        # rated: 16,000 rows skipped, 200 ms). Built under a new name before the old one is dropped,
        # so the list always has an index for this order.
        AddIndexConcurrentlyOnPostgres(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', '-quality_score', '-created_at', '-id'], include=('search_name', 'verdict'), name='artifact_live_by_quality_idx'),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name='modelartifact', name='artifact_live_quality_idx'),
        # 0009's verdict index (built in a transaction, blocking writes while it built) again, now
        # carrying ``quality_score`` so that ``verdict=`` sorted by quality sorts from the index.
        RemoveIndexConcurrentlyOnPostgres(model_name='modelartifact', name='artifact_live_verdict_idx'),
        AddIndexConcurrentlyOnPostgres(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', True)), fields=['user', 'verdict', '-created_at', '-id'], include=('quality_score',), name='artifact_live_verdict_idx'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='modelartifact',
            index=models.Index(models.F('user'), models.F('quality_metrics__convergence_quality'), models.OrderBy(models.F('created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('deleted_at__isnull', True)), include=('quality_metrics', 'quality_score'), name='artifact_live_convergence_idx'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='modelartifact',
            index=models.Index(condition=models.Q(('deleted_at__isnull', False)), fields=['user', '-deleted_at', '-id'], name='artifact_deleted_idx'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='modelartifact',
            index=models.Index(fields=['-created_at', '-id'], name='artifact_recent_idx'),
        ),
    ]
