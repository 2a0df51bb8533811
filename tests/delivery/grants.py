"""Download grants as the delivery tests ask for them, and the bodies of the downloads."""

from __future__ import annotations

from django.test import Client


def grant(client: Client, model, body=None, **extra):
    if body is None:
        return client.post(f"/api/models/{model.id}/download", **extra)
    return client.post(f"/api/models/{model.id}/download", body, content_type="application/json", **extra)


def signed_url(client: Client, model, filename: str = "adapter_model.safetensors") -> str:
    response = grant(client, model, {"files": [filename]})
    assert response.status_code == 200, response.content
    return response.json()["data"]["download_urls"][filename]


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def fetch(url: str, **headers: str):
    """GET one of our download links as a download tool does: through the link (Django's test client)
    and, when it redirects to the storage backend, on to that URL (``requests``), with the same headers.
    Returns ``(status, body bytes, the link's own response)``."""
    import requests

    link = Client().get(url, headers=headers)
    if link.status_code != 302:
        return link.status_code, body_of(link), link
    backend = requests.get(link["Location"], headers=headers, timeout=30)
    return backend.status_code, backend.content, link
