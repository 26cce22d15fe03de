"""Websocket admission per client address, and signing out closing the user's sockets."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from entries.consumers import CLOSE_BUSY, CLOSE_SIGNED_OUT, connection_gate
from liveblog.asgi import application
from liveblog.ratelimit import ConnectionGate
from tests.conftest import post_entry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_gate_caps_open_connections_per_address():
    gate = ConnectionGate(concurrent=2, rate=0, burst=0)
    assert gate.admit("10.0.0.1") is None and gate.admit("10.0.0.1") is None
    assert gate.admit("10.0.0.1") == ConnectionGate.FULL_RETRY_SECONDS
    assert gate.admit("10.0.0.2") is None  # another address is not affected
    gate.release("10.0.0.1")
    assert gate.admit("10.0.0.1") is None
    for _ in range(2):
        gate.release("10.0.0.1")
    assert gate.open == {"10.0.0.2": 1}  # nothing kept for an address with none open


def test_the_gate_lets_a_burst_through_then_a_steady_rate():
    clock = Clock()
    gate = ConnectionGate(concurrent=0, rate=2, burst=3, clock=clock)
    assert [gate.admit("a") for _ in range(3)] == [None, None, None]
    assert gate.admit("a") == 1  # half a second until the next token: wait a whole one
    assert gate.admit("b") is None
    clock.now += 0.5
    assert gate.admit("a") is None and gate.admit("a") == 1
    clock.now += 60
    assert [gate.admit("a") for _ in range(4)] == [None, None, None, 1]  # refilled to 3


def test_a_slow_rate_asks_for_a_longer_wait():
    gate = ConnectionGate(concurrent=0, rate=0.1, burst=1, clock=Clock())
    assert gate.admit("a") is None
    assert gate.admit("a") == 10


def test_the_gate_forgets_idle_addresses(monkeypatch):
    clock = Clock()
    gate = ConnectionGate(concurrent=0, rate=1, burst=2, clock=clock)
    monkeypatch.setattr(ConnectionGate, "PRUNE_AT", 3)
    for address in "abc":
        gate.admit(address)
    clock.now += 10
    gate.admit("d")
    assert set(gate.buckets) == {"d"}


def test_limits_of_zero_admit_everyone():
    gate = ConnectionGate(concurrent=0, rate=0, burst=0)
    assert all(gate.admit("a") is None for _ in range(10_000))


def reader(
    session_id: int, address: str, cookie: str | None = None, after: int = 0
) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    path = f"/ws/sessions/{session_id}/?after={after}"
    communicator = WebsocketCommunicator(application, path, headers)
    communicator.scope["client"] = [address, 50000]  # the app starts on the first message
    return communicator


async def open_reader(session_id: int, address: str, cookie: str | None = None, after: int = 0):
    communicator = reader(session_id, address, cookie, after)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from(timeout=3))["type"] == "caught_up"
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_an_address_over_its_cap_is_told_to_come_back_later(session, settings):
    settings.WEBSOCKET_MAX_PER_ADDRESS = 2
    settings.WEBSOCKET_CONNECT_BURST = settings.WEBSOCKET_CONNECT_RATE = 0
    first = await open_reader(session.pk, "203.0.113.7")
    second = await open_reader(session.pk, "203.0.113.7")
    turned_away = reader(session.pk, "203.0.113.7")
    assert (await turned_away.connect())[0]
    assert await turned_away.receive_json_from(timeout=3) == {
        "type": "busy",
        "retry_after": 10,
    }
    assert await turned_away.receive_output(timeout=3) == {
        "type": "websocket.close",
        "code": CLOSE_BUSY,
    }
    await turned_away.wait()
    # Another address still gets in, and a place freed is a place taken.
    neighbour = await open_reader(session.pk, "198.51.100.4")
    await first.disconnect()
    third = await open_reader(session.pk, "203.0.113.7")
    for communicator in (second, third, neighbour):
        await communicator.disconnect()
    assert connection_gate().open == {}


@pytest.mark.django_db(transaction=True)
async def test_connects_over_the_rate_are_told_when_to_retry(session, settings):
    settings.WEBSOCKET_MAX_PER_ADDRESS = 0
    settings.WEBSOCKET_CONNECT_BURST = 3
    settings.WEBSOCKET_CONNECT_RATE = 1
    readers = [await open_reader(session.pk, "203.0.113.9") for _ in range(3)]
    turned_away = reader(session.pk, "203.0.113.9")
    assert (await turned_away.connect())[0]
    assert await turned_away.receive_json_from(timeout=3) == {"type": "busy", "retry_after": 1}
    assert (await turned_away.receive_output(timeout=3))["code"] == CLOSE_BUSY
    await turned_away.wait()
    for communicator in readers:
        await communicator.disconnect()


def signed_in_cookie(user) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}"


@pytest.mark.django_db(transaction=True)
async def test_signing_out_closes_that_users_sockets_and_no_one_elses(session, blogger, organiser):
    client, cookie = await sync_to_async(signed_in_cookie)(blogger)
    _, other_cookie = await sync_to_async(signed_in_cookie)(organiser)
    mine = [await open_reader(session.pk, "192.0.2.1", cookie) for _ in range(2)]
    theirs = await open_reader(session.pk, "192.0.2.1", other_cookie)
    anonymous = await open_reader(session.pk, "192.0.2.1")

    response = await sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    for communicator in mine:
        assert await communicator.receive_output(timeout=3) == {
            "type": "websocket.close",
            "code": CLOSE_SIGNED_OUT,
        }
    # The others stay open and live.
    entry = await sync_to_async(post_entry)(session, blogger, "Still here")
    for communicator in (theirs, anonymous):
        assert (await communicator.receive_json_from(timeout=3))["id"] == entry.pk
        await communicator.disconnect()

    # Reconnecting with the old cookie now finds an anonymous reader, who stays.
    again = await open_reader(session.pk, "192.0.2.1", cookie, after=entry.seq)
    await sync_to_async(client.post)("/accounts/logout/")
    assert await again.receive_nothing(timeout=0.5)
    await again.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_signing_out_with_the_channel_layer_down_still_signs_out(
    session, blogger, monkeypatch, caplog
):
    class Broken:
        async def group_send(self, *args, **kwargs):
            raise ConnectionError("layer down")

    client, _ = await sync_to_async(signed_in_cookie)(blogger)
    monkeypatch.setattr("entries.broadcast.get_channel_layer", lambda: Broken())
    response = await sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in (await sync_to_async(lambda: client.session.items())())
    assert "closing the sockets of user" in caplog.text
