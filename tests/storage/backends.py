"""Each storage backend as the deletion and audit tests use it, with an independent view of what is
stored (the disk, moto's bucket through boto3, the fake Supabase server's objects): a test never
checks the seam with the seam."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import use_storage
from tests.storage.supabase_fake import FakeSupabaseStorage

BACKENDS = ["local", "s3", "supabase"]


@dataclass
class Backend:
    name: str
    stored: Callable[[], set[str]]  # every key in storage, read without the seam
    supabase: FakeSupabaseStorage | None = None


def backend_for(request: pytest.FixtureRequest, settings, name: str) -> Backend:
    if name == "local":
        root: Path = request.getfixturevalue("artifact_root")

        def on_disk() -> set[str]:
            return {
                Path(parent, leaf).relative_to(root).as_posix()
                for parent, _dirs, files in os.walk(root)
                for leaf in files
            }

        return Backend("local", on_disk)
    if name == "s3":
        client = request.getfixturevalue("s3_storage")

        def in_bucket() -> set[str]:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=client.bucket)
            return {item["Key"] for page in pages for item in page.get("Contents", [])}

        return Backend("s3", in_bucket)
    server = FakeSupabaseStorage()
    use_storage(
        settings,
        "artifacts.storage.supabase.SupabaseArtifactStorage",
        url="https://project.supabase.test",
        key="service-key",
        http_client=server.client(),
    )
    return Backend("supabase", lambda: set(server.objects), supabase=server)
