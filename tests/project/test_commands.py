from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import ApiToken, hash_token
from pipeline.models import Dataset, MetricsPoint, TrainingJob


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    counts = (Dataset.objects.count(), TrainingJob.objects.count(), MetricsPoint.objects.count())
    assert counts[0] == 3
    assert TrainingJob.objects.filter(status="completed").count() >= 8
    assert TrainingJob.objects.filter(status="running").count() == 2
    assert not TrainingJob.objects.filter(external_job_id__isnull=True).exists()
    assert "Log in as demo / " in out.getvalue()

    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert (Dataset.objects.count(), TrainingJob.objects.count(), MetricsPoint.objects.count()) == counts
    assert "Created 0 users, 0 datasets, 0 jobs, 0 metrics points." in again.getvalue()


@pytest.mark.django_db
def test_seed_demo_histories_cover_every_quality_case():
    call_command("seed_demo", stdout=StringIO())
    diverged = TrainingJob.objects.get(external_job_id="sim-demo-diverged")
    losses = list(diverged.metrics_points.values_list("training_loss", flat=True))
    assert losses[-1] is None or losses[-1] != losses[-1]  # NULL on SQLite, NaN on PostgreSQL
    no_val = TrainingJob.objects.get(external_job_id="sim-demo-no-validation")
    assert not no_val.metrics_points.filter(validation_loss__isnull=False).exists()


@pytest.mark.django_db
def test_create_api_token_prints_token_last_stored_hashed_and_authenticates(alice):
    out = StringIO()
    call_command("create_api_token", "alice", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(user=alice)
    assert token.hashed == hash_token(raw)
    assert raw not in (token.hashed, token.prefix)
    assert ApiToken.objects.authenticate(raw) == token
    assert ApiToken.objects.authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None


@pytest.mark.django_db
def test_create_api_token_unknown_user_is_a_clear_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_login_page_logs_in_and_logout_requires_post(alice):
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Log in" in page.content
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(alice.pk)
    bad = Client().post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert bad.status_code == 200 and b"Please enter a correct username and password" in bad.content
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session
