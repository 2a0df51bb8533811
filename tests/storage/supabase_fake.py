"""An in-memory Supabase Storage API that behaves as the real server documents (no recording).

* Object keys must match the server's ``isValidKey`` (supabase/storage ``src/storage/limits.ts``):
  ``/^(\\w|\\/|!|-|\\.|\\*|'|\\(|\\)| |&|\\$|@|=|;|:|\\+|,|\\?)*$/``; anything else is
  ``400 {"error": "InvalidKey"}``.
* Keys arrive URL-encoded in the path and are decoded by the server; storage3 also percent-decodes
  the key it is given (``relative_path_to_parts``), so ``a%20b.bin`` and ``a b.bin`` are one object.
* ``POST /object/list/{bucket}`` answers at most ``limit`` entries from ``offset`` (storage3 sends
  ``limit: 100`` unless told otherwise), sorted by name, one folder level deep; a folder is an entry
  with ``id: null`` and no metadata (supabase/storage ``list_objects``).
* ``POST /object/sign/{bucket}/{key}`` records the ``expiresIn`` it was asked for; ``GET`` of the
  signed URL serves the object, one ``Range`` honoured (206).
* An object over the bucket's ``file_size_limit`` is ``413 Payload too large``; a missing bucket is
  ``404 Bucket not found``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx

VALID_KEY = re.compile(r"^(\w|/|!|-|\.|\*|'|\(|\)| |&|\$|@|=|;|:|\+|,|\?)*$", re.ASCII)
BASE = "/storage/v1"


def error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"statusCode": str(status), "error": code, "message": message})


def file_part(request: httpx.Request) -> bytes:
    """The uploaded file's bytes out of storage3's multipart body."""
    boundary = request.headers["content-type"].split("boundary=", 1)[1].encode()
    for part in request.content.split(b"--" + boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b"filename=" in head:
            return data.removesuffix(b"\r\n")
    return request.content


@dataclass
class FakeSupabaseStorage:
    bucket: str = "lora-models"
    file_size_limit: int | None = None
    objects: dict[str, bytes] = field(default_factory=dict)
    list_calls: list[dict] = field(default_factory=list)
    signed: list[tuple[str, int]] = field(default_factory=list)  # (key, expiresIn) per sign call
    fail_uploads_with: int | None = None  # e.g. 503: a passing fault

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        path = unquote(request.url.raw_path.decode().split("?", 1)[0])
        if request.method == "POST" and path.startswith(f"{BASE}/object/list/"):
            return self.list(path.removeprefix(f"{BASE}/object/list/"), json.loads(request.content))
        if request.method == "DELETE" and path == f"{BASE}/object/{self.bucket}":
            for key in json.loads(request.content)["prefixes"]:
                self.objects.pop(key, None)
            return httpx.Response(200, json=[])
        if request.method == "POST" and path.startswith(f"{BASE}/object/sign/"):
            key = path.removeprefix(f"{BASE}/object/sign/{self.bucket}/")
            if key not in self.objects:
                return error(400, "not_found", "Object not found")
            self.signed.append((key, int(json.loads(request.content)["expiresIn"])))
            return httpx.Response(200, json={"signedURL": f"/object/sign/{self.bucket}/{key}?token=t"})
        if request.method == "GET" and path.startswith(f"{BASE}/object/sign/{self.bucket}/"):
            return self.serve(path.removeprefix(f"{BASE}/object/sign/{self.bucket}/"), request)
        if request.method in ("POST", "PUT") and path.startswith(f"{BASE}/object/"):
            return self.upload(path.removeprefix(f"{BASE}/object/"), request)
        return error(404, "not_found", f"no route {request.method} {path}")

    def upload(self, bucket_and_key: str, request: httpx.Request) -> httpx.Response:
        bucket, _, key = bucket_and_key.partition("/")
        if bucket != self.bucket:
            return error(404, "Bucket not found", "Bucket not found")
        if not VALID_KEY.match(key):
            return error(400, "InvalidKey", f"Invalid key: {key}")
        if self.fail_uploads_with:
            return error(self.fail_uploads_with, "InternalError", "try again")
        body = file_part(request)
        if self.file_size_limit is not None and len(body) > self.file_size_limit:
            return error(413, "Payload too large", "The object exceeded the maximum allowed size")
        self.objects[key] = body
        return httpx.Response(200, json={"Key": f"{bucket}/{key}", "Id": key})

    def serve(self, key: str, request: httpx.Request) -> httpx.Response:
        if key not in self.objects:
            return error(400, "not_found", "Object not found")
        data = self.objects[key]
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("Range", ""))
        if not ranged:
            return httpx.Response(200, content=data)
        first = int(ranged.group(1))
        last = int(ranged.group(2)) if ranged.group(2) else len(data) - 1
        headers = {"Content-Range": f"bytes {first}-{last}/{len(data)}"}
        return httpx.Response(206, content=data[first : last + 1], headers=headers)

    def list(self, bucket: str, body: dict) -> httpx.Response:
        if bucket != self.bucket:
            return error(404, "Bucket not found", "Bucket not found")
        self.list_calls.append(body)
        folder = body.get("prefix", "").rstrip("/")
        start = folder + "/" if folder else ""  # "" is the bucket's top level
        below = [key[len(start) :] for key in self.objects if key.startswith(start)]
        folders = {rest.split("/", 1)[0] for rest in below if "/" in rest}
        names = sorted({rest.split("/", 1)[0] for rest in below})
        limit, offset = int(body.get("limit", 100)), int(body.get("offset", 0))
        page = names[offset : offset + limit]
        entries = [
            {"name": name, "id": None, "metadata": None}
            if name in folders
            else {"name": name, "id": name, "metadata": {"size": len(self.objects[start + name])}}
            for name in page
        ]
        return httpx.Response(200, json=entries)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))
