"""What ``make prod-check`` asserts against the running process set (see ``deploy/prod_check.py``).

Everything goes through the public surfaces (HTTP with ``X-Forwarded-Proto: https``, as behind the
TLS proxy ``DEBUG=false`` expects) and is verified in the database with plain SQL and in the bucket.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import requests

from deploy.stack import CheckFailed, Stack, wait_until

SEED = """
import os
from django.contrib.auth import get_user_model
from pipeline.models import Dataset, TrainingJob
user, _ = get_user_model().objects.get_or_create(username="prodcheck", defaults={"email": "pc@example.com"})
dataset, _ = Dataset.objects.get_or_create(user=user, name="prod-check chats", total_training_pairs=1000)
jobs = []
for spec in os.environ["SEED_JOBS"].split(","):
    prefix, count = spec.split(":")
    jobs += [TrainingJob(user=user, dataset=dataset, status="running", external_job_id=f"{prefix}-{i:04d}",
                         hyperparameters={"rank": 1, "learning_rate": 0.0002, "epochs": 1}) for i in range(int(count))]
TrainingJob.objects.bulk_create(jobs)
"""

JOB_STATE = """
SELECT j.id, j.artifact_id, i.state, i.attempts, i.bytes_done, i.bytes_total, i.last_error
FROM lora_training_jobs j LEFT JOIN lora_artifact_ingests i ON i.job_id = j.id
WHERE j.external_job_id LIKE %s
"""

EXACTLY_ONCE = """
SELECT j.external_job_id,
       (SELECT count(*) FROM lora_model_artifacts a WHERE a.job_id = j.id AND a.id = j.artifact_id),
       (SELECT count(*) FROM lora_model_artifacts a WHERE a.job_id = j.id),
       (SELECT count(*) FROM lora_notifications n
         WHERE n.type = 'artifact_ready' AND n.metadata->>'job_id' = j.id::text),
       (SELECT count(*) FROM lora_notifications n
         WHERE n.type <> 'artifact_ready' AND n.metadata->>'job_id' = j.id::text)
FROM lora_training_jobs j WHERE j.external_job_id LIKE %s
"""

KILL_JOB = "pc-kill-0000"
KILL_ADAPTER_MB = 32
KILL_THROTTLE = 4 * 1024 * 1024  # bytes/s per connection: the adapter takes ~8 s to transfer


class Checks:
    def __init__(self, stack: Stack, env: dict[str, str], run: list[str], db_url: str):
        self.stack, self.env, self.run = stack, env, run
        self.web = "http://" + env["WEB_BIND"]
        self.sim = env["GPU_CLUSTER_API_URL"]
        self.db = psycopg.connect(db_url, autocommit=True)
        self.http = requests.Session()
        self.http.headers["X-Forwarded-Proto"] = "https"  # what the TLS-terminating proxy adds
        self.token = ""

    def close(self) -> None:
        self.db.close()
        self.http.close()

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.db.execute(query, params).fetchall()  # type: ignore[arg-type]

    # --- start-up --------------------------------------------------------------------------------
    def wait_ready(self) -> None:
        wait_until("the simulator answering", lambda: requests.get(f"{self.sim}/health", timeout=2).ok, 60)
        self.status_ok(timeout=90)
        self.wait_workers(1)
        self.stack.assert_running()

    def wait_workers(self, count: int) -> None:
        def ready() -> bool:
            self.stack.assert_running()
            return all(" ready." in self.stack.log_path(f"worker{n}").read_text() for n in range(1, count + 1))

        wait_until(f"{count} Celery worker(s) ready", ready, 90)

    def status_ok(self, timeout: float = 10) -> None:
        def healthy() -> bool:
            response = self.http.get(f"{self.web}/status", timeout=15)
            if response.status_code != 200:
                raise ValueError(f"/status answered {response.status_code}: {response.text[:300]}")
            return True

        wait_until("/status answering 200 (database, broker and storage reachable)", healthy, timeout)

    def seed(self, jobs_one: int, jobs_two: int) -> None:
        spec = f"pc-one:{jobs_one},pc-two:{jobs_two},pc-kill:1"
        python = self.env["PYTHON"]
        self.stack.run("seed", [python, "manage.py", "shell", "-c", SEED], {**self.env, "SEED_JOBS": spec})
        out = self.stack.run("token", [python, "manage.py", "create_api_token", "prodcheck"], self.env)
        self.token = out.strip().splitlines()[-1]

    def serving(self) -> None:
        """Pages, static files and the webhook's signature check behave as in production."""
        page = self.http.get(f"{self.web}/models", timeout=15, allow_redirects=False)
        if page.status_code != 302 or "/accounts/login/" not in page.headers.get("Location", ""):
            raise CheckFailed(f"/models signed out should redirect to the login page, got {page.status_code}")
        login = self.http.get(f"{self.web}/accounts/login/", timeout=15)
        css = re.search(r'href="(/static/css/app\.[0-9a-f]+\.css)"', login.text)
        if login.status_code != 200 or css is None:
            raise CheckFailed("the login page should render with hashed static file names (collectstatic)")
        static = self.http.get(self.web + css.group(1), timeout=15)
        if static.status_code != 200 or "max-age" not in static.headers.get("Cache-Control", ""):
            raise CheckFailed(f"{css.group(1)} should be served with a long cache lifetime, got {static.status_code}")
        body = json.dumps({"external_job_id": "pc-one-0000", "status": "completed"}).encode()
        forged = self.http.post(
            f"{self.web}/api/webhooks/training-complete",
            data=body,
            headers={"Content-Type": "application/json", "X-Signature-256": "sha256=" + "0" * 64},
            timeout=15,
        )
        if forged.status_code != 401:
            raise CheckFailed(f"a webhook with a wrong signature should answer 401, got {forged.status_code}")

    # --- jobs through webhooks ------------------------------------------------------------------
    def webhook(self, external_job_id: str) -> None:
        body = json.dumps({"external_job_id": external_job_id, "status": "completed"}).encode()
        secret = self.env["GPU_CLUSTER_WEBHOOK_SECRET"].encode()
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        response = requests.post(
            f"{self.web}/api/webhooks/training-complete",
            data=body,
            headers={"Content-Type": "application/json", "X-Signature-256": signature, "X-Forwarded-Proto": "https"},
            timeout=60,
        )
        if response.status_code != 200 or response.json()["data"]["changed"] is not True:
            raise CheckFailed(f"webhook for {external_job_id} answered {response.status_code}: {response.text[:300]}")

    def batch(self, prefix: str, count: int) -> float:
        """Complete ``count`` jobs by webhook at once; wait for every artifact; return jobs/minute."""
        ids = [f"{prefix}-{i:04d}" for i in range(count)]
        began = time.time()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(self.webhook, ids))
        sent = time.time() - began

        def all_stored() -> bool:
            self.stack.assert_running()
            rows = self.sql(JOB_STATE, f"{prefix}-%")
            failed = [r for r in rows if r[2] in ("failed", "retrying")]
            if failed:
                raise CheckFailed(f"{len(failed)} ingest(s) of {prefix} failed or are retrying, e.g.: {failed[0][6]}")
            return sum(1 for r in rows if r[1] is not None) == count

        wait_until(f"{count} artifacts of {prefix}-*", all_stored, 60 + count * 2)
        last = self.sql(
            "SELECT extract(epoch FROM max(a.created_at)) FROM lora_model_artifacts a "
            "JOIN lora_training_jobs j ON j.id = a.job_id WHERE j.external_job_id LIKE %s",
            f"{prefix}-%",
        )[0][0]
        self.assert_exactly_once(prefix, count)
        elapsed = float(last) - began
        rate = count / elapsed * 60
        print(f"    {count} webhooks sent in {sent:.1f} s; all stored after {elapsed:.1f} s = {rate:.0f} jobs/min")
        return rate

    def assert_exactly_once(self, prefix: str, count: int) -> None:
        rows = self.sql(EXACTLY_ONCE, f"{prefix}-%")
        wrong = [r for r in rows if r[1:] != (1, 1, 1, 0)]
        if len(rows) != count or wrong:
            raise CheckFailed(
                f"{prefix}: expected {count} jobs with exactly one artifact and one artifact_ready notification "
                f"each; (job, linked, artifacts, ready, other notifications) off for {len(wrong)}: {wrong[:5]}"
            )
        print(f"    {count} jobs: exactly one artifact and one artifact_ready notification each")

    def bucket_matches_database(self) -> None:
        """Every stored file row is in the bucket at its size; no object outside a recorded artifact."""
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.env["AWS_S3_ENDPOINT_URL"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_S3_REGION_NAME"],
        )
        objects = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.env["ARTIFACT_BUCKET"]):
            objects.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        rows = self.sql("SELECT f.key, f.size FROM lora_model_artifact_files f")
        missing = [(key, size) for key, size in rows if objects.get(key) != size]
        prefixes = {f"{u}/{a}/" for u, a in self.sql("SELECT user_id, id FROM lora_model_artifacts")}
        strays = [
            k for k in objects if not k.startswith(".healthcheck/") and "/".join(k.split("/")[:2]) + "/" not in prefixes
        ]
        if missing or strays:
            raise CheckFailed(
                f"bucket and database disagree: missing/wrong size {missing[:3]}, stray objects {strays[:3]}"
            )
        print(f"    bucket holds the {len(rows)} recorded files at their sizes, nothing else")

    # --- a worker killed mid-transfer -----------------------------------------------------------
    def kill_mid_transfer(self) -> dict[str, Any]:
        self.stack.stop("simulator")
        self.stack.start(
            "simulator-throttled",
            [
                *self.run,
                "simulator",
                "--adapter-mb",
                str(KILL_ADAPTER_MB),
                "--throttle-bytes-per-second",
                str(KILL_THROTTLE),
            ],
            self.env,
        )
        listing = wait_until(
            "the throttled simulator listing the large job",
            lambda: requests.get(
                f"{self.sim}/training/artifacts/{KILL_JOB}",
                headers={"Authorization": f"Bearer {self.env['GPU_CLUSTER_API_KEY']}"},
                timeout=120,
            ).json(),
            120,
        )
        files = listing["model_metadata"]["files"]
        adapter = files["adapter_model.safetensors"]["size"]
        self.webhook(KILL_JOB)

        def in_flight() -> tuple[Any, ...] | None:
            rows = self.sql(JOB_STATE, KILL_JOB)
            row = rows[0] if rows else None
            return row if row and row[2] == "running" and row[4] >= adapter // 4 else None

        row = wait_until("the large transfer under way (a quarter of it stored)", in_flight, 90, interval=0.1)
        holder = next(
            (
                name
                for name in ("worker1", "worker2")
                if f"external_job_id={KILL_JOB}" in self.stack.log_path(name).read_text()
            ),
            None,
        )
        if holder is None:
            raise CheckFailed(f"no worker log says it started {KILL_JOB}")
        self.stack.kill(holder, signal.SIGKILL)
        killed_at = time.time()
        print(f"    SIGKILLed {holder} (its whole process group) at {row[4]:,} of {row[5]:,} bytes")
        survivor = "worker2" if holder == "worker1" else "worker1"
        return {"holder": holder, "survivor": survivor, "at": killed_at, "files": files}

    def await_recovery(self, killed: dict[str, Any]) -> float:
        lease = int(self.env["ARTIFACT_LEASE_SECONDS"])

        def stored() -> bool:
            self.stack.assert_running()
            rows = self.sql(JOB_STATE, KILL_JOB)
            if rows[0][2] == "failed":
                raise CheckFailed(f"{KILL_JOB} failed after the kill: {rows[0][6]}")
            return rows[0][1] is not None

        wait_until(f"{KILL_JOB} stored by the surviving worker", stored, lease + 60 + 90)
        took = time.time() - killed["at"]
        job = self.sql(JOB_STATE, KILL_JOB)[0]
        survivor_log = self.stack.log_path(killed["survivor"]).read_text()
        if job[3] < 2 or f"external_job_id={KILL_JOB} attempt=" not in survivor_log:
            raise CheckFailed(f"{KILL_JOB} should have been taken over by {killed['survivor']} (attempts {job[3]})")
        self.assert_exactly_once("pc-kill", 1)
        stored_files = dict(
            self.sql(
                "SELECT f.filename, f.sha256 FROM lora_model_artifact_files f WHERE f.artifact_id = %s",
                job[1],
            )
        )
        expected = {name: meta["sha256"] for name, meta in killed["files"].items()}
        if any(stored_files.get(name) != sha for name, sha in expected.items()):
            raise CheckFailed(f"{KILL_JOB}'s stored checksums differ from the cluster's: {stored_files} vs {expected}")
        url = self.download_urls(str(job[1]))["adapter_model.safetensors"]
        digest = hashlib.sha256()
        with self.http.get(url, stream=True, timeout=120) as response:
            for chunk in response.iter_content(1024 * 1024):
                digest.update(chunk)
        if digest.hexdigest() != expected["adapter_model.safetensors"]:
            raise CheckFailed(f"{KILL_JOB}'s adapter in the bucket is not the cluster's bytes")
        print(
            f"    {killed['survivor']} took the job over after the lease expired: attempt {job[3]}, "
            f"stored {took:.0f} s after the kill, exactly once, bytes verified"
        )
        return took

    # --- downloads ------------------------------------------------------------------------------
    def download_urls(self, artifact_id: str) -> dict[str, str]:
        response = self.http.post(
            f"{self.web}/api/models/{artifact_id}/download",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        if response.status_code != 200:
            raise CheckFailed(
                f"download grant for {artifact_id} answered {response.status_code}: {response.text[:300]}"
            )
        # Our own links (SITE_URL, the TLS proxy's address): fetched from the web process directly;
        # each redirects to a presigned URL minted for that request.
        site = self.env["SITE_URL"].rstrip("/")
        return {
            name: self.web + url.removeprefix(site) for name, url in response.json()["data"]["download_urls"].items()
        }

    def ranged_downloads(self) -> None:
        models = self.http.get(
            f"{self.web}/api/models?limit=1", headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )
        if models.status_code != 200 or not models.json()["data"]["models"]:
            raise CheckFailed(f"GET /api/models answered {models.status_code}: {models.text[:300]}")
        artifact_id = models.json()["data"]["models"][0]["id"]
        url = self.download_urls(artifact_id)["adapter_model.safetensors"]
        whole = self.http.get(url, timeout=60)
        size = len(whole.content)
        recorded = self.sql(
            "SELECT sha256 FROM lora_model_artifact_files WHERE artifact_id = %s AND filename = %s",
            artifact_id,
            "adapter_model.safetensors",
        )[0][0]
        if whole.status_code != 200 or hashlib.sha256(whole.content).hexdigest() != recorded:
            raise CheckFailed(f"download link of {artifact_id}'s adapter did not return the stored bytes")
        for header, start, end in (("bytes=1000-1999", 1000, 2000), ("bytes=-100", size - 100, size)):
            part = self.http.get(url, headers={"Range": header}, timeout=60)
            expected_range = f"bytes {start}-{end - 1}/{size}"
            if (
                part.status_code != 206
                or part.headers.get("Content-Range") != expected_range
                or part.content != whole.content[start:end]
            ):
                got = f"{part.status_code} {part.headers.get('Content-Range')!r} ({len(part.content)} bytes)"
                raise CheckFailed(f"Range {header} through a download link: got {got}, expected 206 {expected_range!r}")
        print(
            f"    download link → presigned URL: 200 with the stored sha256; Range answers 206 with the right bytes "
            f"({size:,} B file)"
        )
