"""/healthz: 200 when the database and the channel layer answer, 503 naming what failed."""

from __future__ import annotations

import asyncio
import socket

import pytest
from channels.layers import get_channel_layer
from django.db import OperationalError, connection

from liveblog import health

pytestmark = [pytest.mark.django_db]


def broken(*args, **kwargs):
    raise OperationalError("connection refused")


async def broken_send(channel, message):
    raise ConnectionError("channel layer unreachable")


def test_it_answers_200_when_the_database_the_channel_layer_and_the_cache_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "channel_layer": "ok", "cache": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]


def test_it_answers_503_naming_the_database_when_the_database_fails(client, monkeypatch):
    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "checks": {"database": "failed: OperationalError", "channel_layer": "ok", "cache": "ok"},
    }


def test_a_failing_channel_layer_is_named_but_keeps_the_worker_in_the_proxy(client, monkeypatch):
    # Redis down: pages and posts still work, so the proxy must not drop every worker.
    monkeypatch.setattr(get_channel_layer(), "send", broken_send)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "channel_layer": "failed: ConnectionError", "cache": "ok"},
    }


def test_a_failing_cache_is_named_too(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(health.cache, "set", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"] == "failed: ConnectionError"


def test_a_hung_channel_layer_is_reported_within_the_timeout(client, monkeypatch):
    async def never_answers(channel):
        await asyncio.sleep(60)

    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(get_channel_layer(), "receive", never_answers)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    assert response.json()["checks"]["channel_layer"] == "timed out after 0.2s"


def test_it_names_both_when_both_fail(client, monkeypatch):
    monkeypatch.setattr(connection, "cursor", broken)
    monkeypatch.setattr(get_channel_layer(), "send", broken_send)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert set(response.json()["checks"].values()) == {
        "failed: OperationalError",
        "failed: ConnectionError",
        "ok",
    }


def test_it_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_the_container_probe_passes_against_a_healthy_worker(live_server):
    port = int(live_server.url.rsplit(":", 1)[1])
    assert health.probe(port, "localhost") is True


def test_the_container_probe_fails_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        assert health.probe(port, "localhost", timeout=2) is False


@pytest.mark.parametrize(
    ("allowed_hosts", "expected"),
    [
        ("liveblog.example.com,localhost", "liveblog.example.com"),
        ("*, .example.com, www.example.com", "www.example.com"),
        ("", "localhost"),
    ],
)
def test_the_probe_sends_the_first_concrete_allowed_host(allowed_hosts, expected):
    assert health._first_concrete_host(allowed_hosts) == expected


@pytest.mark.django_db(transaction=True)
async def test_the_channel_layer_check_reuses_one_channel_instead_of_a_new_subscription_each_time(
    async_client, monkeypatch
):
    """With the Redis pub/sub layer each new channel stays subscribed for the life of the
    process, and Redis restarting subscribes them all again (found by `make soak`)."""
    layer = get_channel_layer()
    made = []
    original = layer.new_channel

    async def counting_new_channel(prefix="specific."):
        made.append(prefix)
        return await original(prefix)

    monkeypatch.setattr(layer, "new_channel", counting_new_channel)
    for _ in range(3):
        response = await async_client.get("/healthz")
        assert response.json()["checks"]["channel_layer"] == "ok"
    assert made == ["healthz."]


@pytest.mark.django_db(transaction=True)
async def test_after_a_check_times_out_the_next_one_answers_on_a_new_channel(
    async_client, monkeypatch
):
    """A receive cancelled by the timeout unsubscribes the pub/sub layer's channel, and a
    ping left over may still be queued on others: neither fails the next check."""
    layer = get_channel_layer()
    original = layer.receive
    hung = True

    async def hangs_once(channel):
        if hung:
            await asyncio.sleep(60)
        return await original(channel)

    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(layer, "receive", hangs_once)
    response = await async_client.get("/healthz")
    assert response.json()["checks"]["channel_layer"] == "timed out after 0.2s"
    hung = False
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 3.0)
    response = await async_client.get("/healthz")
    assert response.json()["checks"]["channel_layer"] == "ok"


@pytest.mark.django_db(transaction=True)
async def test_a_ping_left_over_on_the_channel_is_not_taken_for_the_answer(
    async_client, monkeypatch
):
    response = await async_client.get("/healthz")
    assert response.json()["checks"]["channel_layer"] == "ok"
    layer = get_channel_layer()
    channel = health._health_channels[asyncio.get_running_loop()]
    await layer.send(channel, {"type": "healthz.ping", "nonce": "old"})
    received = []
    original = layer.receive

    async def recording_receive(channel):
        message = await original(channel)
        received.append(message["nonce"])
        return message

    monkeypatch.setattr(layer, "receive", recording_receive)
    response = await async_client.get("/healthz")
    assert response.json()["checks"]["channel_layer"] == "ok"
    assert received[0] == "old" and len(received) == 2
