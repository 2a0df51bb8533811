"""``manage.py recount_storage`` and the migration's backfill: counters recomputed from the rows."""

from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from artifacts.models import StorageUsage
from tests.factories import add_file, make_artifact, make_ready_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(alice, bob):
    model = make_artifact(alice)
    add_file(model, "adapter_config.json", b'{"r": 8}')
    add_file(model, "adapter_model.safetensors", b"w" * 3000)
    make_ready_bundle(model, 5000)
    add_file(make_artifact(bob), "a.bin", b"x" * 100)
    return model


def counters(user) -> tuple[int, int, int, int]:
    row = StorageUsage.objects.get(user=user)
    return row.model_count, row.file_count, row.file_bytes, row.bundle_bytes


def recount(*args: str) -> str:
    out = StringIO()
    call_command("recount_storage", *args, stdout=out)
    return out.getvalue()


def test_a_wrong_counter_is_fixed_and_reported(alice, bob, stored):
    right = counters(alice)
    StorageUsage.objects.filter(user=alice).update(file_bytes=1, model_count=7)
    StorageUsage.objects.filter(user=bob).update(bundle_bytes=-2048)
    report = recount()
    assert "alice: model_count 7 → 1 (+6), file_bytes 1 → 3008 (-2.9 KiB off)" in report
    assert "bob: bundle_bytes -2048 → 0 (-2.0 KiB off)" in report
    assert "Fixed the counters of 2 user(s)." in report
    assert counters(alice) == right
    assert counters(bob) == (1, 1, 100, 0)
    assert recount() == "Recounted every user's counters: all were right.\n"


def test_one_user_only(alice, bob, stored):
    StorageUsage.objects.update(file_count=0)
    report = recount("--user", "bob")
    assert "bob: file_count 0 → 1 (-1)" in report and "alice" not in report
    assert counters(alice)[1] == 0  # left alone
    assert recount("--user", "alice").startswith("alice: file_count 0 → 2")


def test_missing_and_orphan_rows(alice, bob, stored):
    StorageUsage.objects.filter(user=alice).delete()
    StorageUsage.objects.filter(user=bob).update(model_count=0, file_count=0, file_bytes=0)
    StorageUsage.objects.create(user=bob.__class__.objects.create_user("carol"), file_bytes=55)  # stores nothing
    report = recount()
    assert "alice: model_count 0 → 1" in report and "carol: file_bytes 55 → 0" in report
    assert counters(alice) == (1, 2, 3008, 5000)


def test_an_unknown_user_is_an_error():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        recount("--user", "nobody")


def test_the_migration_fills_the_counters_from_the_rows(alice, bob, stored):
    expected = {user.pk: counters(user) for user in (alice, bob)}
    StorageUsage.objects.all().delete()
    migration = importlib.import_module("artifacts.migrations.0010_storage_usage")
    migration.fill_counters(apps, None)
    assert {user.pk: counters(user) for user in (alice, bob)} == expected
