"""No SSRF (DESIGN §16): https only, and no address of our own network, at creation and at connect
time (a name that resolves somewhere else by then is refused before any byte is sent)."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from events.models import ARTIFACT_READY, Delivery, DeliveryAttempt, WebhookEndpoint
from events.services import delivery, endpoints
from events.services.publish import publish

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo


def resolve_as(monkeypatch, names: dict[str, str]) -> None:
    """DNS for ``names`` answers the given address; every other name resolves as usual."""

    def fake(host, port, *args, **kwargs):
        if host in names:
            address = names[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def strict(settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://0.0.0.0/hook", "private or reserved"),
        ("https://localhost/hook", "loopback"),
    ],
)
def test_internal_addresses_are_refused_at_creation(alice, url, why):
    with pytest.raises(ValidationError, match=why):
        endpoints.create_endpoint(alice, url=url)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.usefixtures("strict")
def test_a_name_resolving_to_a_private_address_is_refused(alice, monkeypatch):
    resolve_as(monkeypatch, {"hooks.example.com": "10.0.0.7"})
    with pytest.raises(ValidationError, match="hooks.example.com resolves to 10.0.0.7"):
        endpoints.create_endpoint(alice, url="https://hooks.example.com/in")


@pytest.mark.usefixtures("strict")
def test_http_is_refused_and_https_to_a_public_address_accepted(alice, monkeypatch):
    resolve_as(monkeypatch, {"hooks.example.com": "93.184.215.14"})
    with pytest.raises(ValidationError, match="https"):
        endpoints.create_endpoint(alice, url="http://hooks.example.com/in")
    assert endpoints.create_endpoint(alice, url="https://hooks.example.com/in").url == "https://hooks.example.com/in"


@pytest.fixture
def listener():
    """A bare TCP listener on loopback: any connection attempt at all would show up in ``accept``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.settimeout(0.3)
    yield sock
    sock.close()


def connected(listener) -> bool:
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


@pytest.mark.usefixtures("strict")
def test_dns_rebinding_is_refused_at_connect_time_before_any_connection(alice, listener, monkeypatch):
    port = listener.getsockname()[1]
    resolve_as(monkeypatch, {"hooks.example.com": "93.184.215.14"})  # public when saved...
    endpoints.create_endpoint(alice, url=f"https://hooks.example.com:{port}/hook")
    resolve_as(monkeypatch, {"hooks.example.com": "127.0.0.1"})  # ...loopback when sent
    row = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "m-1"}))

    assert delivery.attempt(row.pk).result == "retry"

    assert not connected(listener)  # nothing on 127.0.0.1 was even connected to
    attempt = DeliveryAttempt.objects.get(delivery=row)
    assert attempt.status_code is None
    assert attempt.error == "Refused: hooks.example.com resolves to 127.0.0.1, a loopback address"


@pytest.mark.usefixtures("strict")
def test_an_http_endpoint_is_refused_once_private_networks_are_no_longer_allowed(alice, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    endpoints.create_endpoint(alice, url=receiver.url)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    row = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "m-1"}))
    delivery.attempt(row.pk)
    assert receiver.received == []
    assert DeliveryAttempt.objects.get(delivery=row).error == "Refused: The URL must start with https://"


def test_allowing_private_networks_lets_the_same_delivery_through(alice, receiver, monkeypatch):
    port = receiver.url.split(":")[2].split("/")[0]
    resolve_as(monkeypatch, {"hooks.example.com": "127.0.0.1"})
    endpoints.create_endpoint(alice, url=f"http://hooks.example.com:{port}/hook")
    row = Delivery.objects.get(event=publish(alice.pk, ARTIFACT_READY, {"id": "m-1"}))
    assert delivery.attempt(row.pk).result == "succeeded"
    assert receiver.received[0].headers["host"] == f"hooks.example.com:{port}"  # Host is the URL's, not the IP


@pytest.mark.usefixtures("strict")
def test_an_existing_endpoint_cannot_be_pointed_inside_later(alice, monkeypatch):
    resolve_as(monkeypatch, {"hooks.example.com": "93.184.215.14"})
    endpoint = endpoints.create_endpoint(alice, url="https://hooks.example.com/in")
    with pytest.raises(ValidationError, match="metadata"):
        endpoints.update_endpoint(endpoint, url="https://169.254.169.254/")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/in"
