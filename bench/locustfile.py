"""The API clients of ``bench/load.py`` (run by ``locust --headless``; not imported by the app).

Each simulated client holds an API token (``LOAD_TOKENS``, comma-separated; clients take them in
turn) and, between 0.2 and 1 s apart, does what the CLI and scripts do: list models (first pages,
deeper pages, a filter, a search), open one model, mint download URLs for its files, ask for its
bundle. Model ids come from ``LOAD_IDS`` (a JSON file: ``{"models": [...], "bundled": [...]}``).
Every response is checked: a 5xx is counted (``LOAD_REPORT`` gets the counts by status class).
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections import Counter
from typing import Any

from locust import HttpUser, between, events, task

IDS = json.loads(open(os.environ["LOAD_IDS"]).read())  # noqa: SIM115, PTH123 (read once at start)
TOKENS = itertools.cycle(os.environ["LOAD_TOKENS"].split(","))
STATUS: Counter[str] = Counter()
FILTERS = [
    "min_score=5",
    "convergence=overfitting%20detected",
    "verdict=ok,warnings",
    "q=legal",
    "limit=100",
    "deleted=true",
]
LAST_PAGE = int(os.environ.get("LOAD_LAST_PAGE", "7900"))


@events.request.add_listener
def count_status(response: Any = None, exception: Any = None, **_: Any) -> None:
    code = getattr(response, "status_code", 0) or 0
    STATUS["error" if exception is not None and not code else f"{code // 100}xx"] += 1


@events.quitting.add_listener
def write_report(**_: Any) -> None:
    with open(os.environ["LOAD_REPORT"], "w") as out:  # noqa: PTH123
        json.dump(dict(STATUS), out)


class ApiClient(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {next(TOKENS)}"

    def get(self, url: str, name: str) -> None:
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")

    @task(4)
    def list_first_page(self) -> None:
        self.get(random.choice(["/api/models", "/api/models?sort=quality"]), "GET /api/models (page 1)")

    @task(2)
    def list_deeper(self) -> None:
        page = random.randint(2, LAST_PAGE)
        self.get(f"/api/models?page={page}&sort={random.choice(['created_at', 'quality'])}", "GET /api/models?page=N")

    @task(2)
    def list_filtered(self) -> None:
        query = random.choice(FILTERS)
        self.get(f"/api/models?{query}", "GET /api/models?<filter>")

    @task(4)
    def detail(self) -> None:
        self.get(f"/api/models/{random.choice(IDS['models'])}", "GET /api/models/{id}")

    @task(2)
    def download_urls(self) -> None:
        model = random.choice(IDS["models"])
        with self.client.post(
            f"/api/models/{model}/download", json={}, name="POST /api/models/{id}/download", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")

    @task(1)
    def bundle(self) -> None:
        model = random.choice(IDS["bundled"])
        with self.client.post(
            f"/api/models/{model}/bundle", name="POST /api/models/{id}/bundle", catch_response=True
        ) as response:
            if response.status_code not in (200, 202):
                response.failure(f"{response.status_code}")
