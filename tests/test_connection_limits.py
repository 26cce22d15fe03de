"""Websocket admission per client address, and signing out closing the user's sockets."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from liveblog.asgi import application
from liveblog.ratelimit import ConnectionGate
from realtime import broadcast
from realtime.consumers import (
    CLOSE_BUSY,
    CLOSE_NOT_FOUND,
    CLOSE_SIGNED_OUT,
    connection_gate,
    gate_address,
)
from realtime.hub import Hub
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
    assert connection_gate().open == {}


@pytest.mark.parametrize(
    ("client", "counted_as"),
    [
        (["203.0.113.7", 1], "203.0.113.7"),
        (["2001:db8:1:2:a:b:c:d", 1], "2001:db8:1:2::/64"),  # one host's share of IPv6
        (["2001:db8:1:2::ffff", 1], "2001:db8:1:2::/64"),
        (["::ffff:203.0.113.7", 1], "203.0.113.7"),
        (["unix-socket", 0], "unix-socket"),
        (None, "unknown"),
    ],
)
def test_the_gate_counts_an_ipv6_host_by_its_64(client, counted_as):
    assert gate_address({"client": client}) == counted_as


@pytest.mark.django_db(transaction=True)
async def test_a_socket_that_fails_before_going_live_gives_its_place_back(
    session, settings, monkeypatch
):
    settings.WEBSOCKET_MAX_PER_ADDRESS = 2
    unknown = reader(424242, "203.0.113.5")
    assert (await unknown.connect())[0]
    assert (await unknown.receive_output(timeout=3))["code"] == CLOSE_NOT_FOUND
    await unknown.disconnect()
    assert connection_gate().open == {}

    async def broken_join(self, session_id, listener):
        raise ConnectionError("channel layer down")

    monkeypatch.setattr(Hub, "join", broken_join)
    for _ in range(3):  # more than the cap: each failed attempt gave its place back
        communicator = reader(session.pk, "203.0.113.5")
        assert (await communicator.connect())[0]
        with pytest.raises(ConnectionError):
            await communicator.receive_output(timeout=3)
    assert connection_gate().open == {}


def signed_in_cookie(user) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}"


@pytest.mark.django_db(transaction=True)
async def test_signing_out_closes_that_sign_ins_sockets_and_no_one_elses(
    session, blogger, organiser, user_lookups
):
    seen = user_lookups
    client, cookie = await sync_to_async(signed_in_cookie)(blogger)
    _, same_user_elsewhere = await sync_to_async(signed_in_cookie)(blogger)
    _, other_user = await sync_to_async(signed_in_cookie)(organiser)
    mine = [await open_reader(session.pk, "192.0.2.1", cookie) for _ in range(2)]
    others = [
        await open_reader(session.pk, "192.0.2.1", same_user_elsewhere),
        await open_reader(session.pk, "192.0.2.1", other_user),
        await open_reader(session.pk, "192.0.2.1"),
    ]

    response = await sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    for communicator in mine:
        assert await communicator.receive_output(timeout=3) == {
            "type": "websocket.close",
            "code": CLOSE_SIGNED_OUT,
        }
        await communicator.disconnect()  # as the server reports once the socket has closed
    # The others stay open and live: the same user on another device, another user, and
    # an anonymous reader.
    entry = await sync_to_async(post_entry)(session, blogger, "Still here")
    for communicator in others:
        assert (await communicator.receive_json_from(timeout=3))["id"] == entry.pk
        await communicator.disconnect()

    # Reconnecting at once with the old cookie finds an anonymous reader: the sockets were
    # closed after the session was flushed, not before.
    again = await open_reader(session.pk, "192.0.2.1", cookie, after=entry.seq)
    assert [user.pk for user in seen] == [blogger.pk] * 3 + [organiser.pk, None]
    await again.disconnect()
    assert connection_gate().open == {}


def test_the_sign_in_group_does_not_show_the_session_key():
    name = broadcast.sign_in_group_name("abc123secret")
    assert "abc123secret" not in name and name == broadcast.sign_in_group_name("abc123secret")


@pytest.mark.django_db(transaction=True)
async def test_signing_out_with_the_channel_layer_down_still_signs_out(
    session, blogger, monkeypatch, caplog
):
    class Broken:
        async def group_send(self, *args, **kwargs):
            raise ConnectionError("layer down")

    client, _ = await sync_to_async(signed_in_cookie)(blogger)
    monkeypatch.setattr("realtime.broadcast.get_channel_layer", lambda: Broken())
    response = await sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in (await sync_to_async(lambda: client.session.items())())
    assert "closing the sockets of a sign-in failed" in caplog.text


@pytest.mark.django_db
def test_the_sockets_are_closed_only_once_the_session_is_gone(blogger, monkeypatch):
    # Django sends user_logged_out before it flushes the session: a page told then would
    # reconnect in time to find the old session still signed in.
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore
    client, _ = signed_in_cookie(blogger)
    key = client.cookies["sessionid"].value
    calls = []
    monkeypatch.setattr(
        broadcast,
        "signed_out",
        lambda session_key: calls.append((session_key, store().exists(session_key))),
    )
    client.post("/accounts/logout/")
    assert calls == [(key, False)]  # once, for that sign-in, whose session no longer exists
    assert not store().exists(key)


def test_the_default_limits_admit_a_venue_reconnecting_at_what_a_worker_carries(settings):
    """5,000 readers behind one venue address reconnect as fast as one worker handshakes
    (about 1,000 a second, docs/benchmarks.md): all admitted; a client opening 10,000 in
    one second is turned away past the burst. Time is simulated: no clock is read."""
    now = [0.0]
    gate = ConnectionGate(
        concurrent=settings.WEBSOCKET_MAX_PER_ADDRESS,
        rate=settings.WEBSOCKET_CONNECT_RATE,
        burst=settings.WEBSOCKET_CONNECT_BURST,
        clock=lambda: now[0],
    )
    for _ in range(5000):
        now[0] += 0.001
        assert gate.admit("203.0.113.7") is None
    flood = [gate.admit("198.51.100.9") for _ in range(10_000)]  # all in the same instant
    assert flood.count(None) == settings.WEBSOCKET_CONNECT_BURST


def test_the_default_limits_admit_a_whole_venue_reconnecting_in_the_same_instant(settings):
    """The Wi-Fi comes back and 5,000 readers behind one address reach the gate together,
    faster than a worker completes them (bench/storm.py): none is turned away, and a
    5,001st socket from that address is."""
    gate = ConnectionGate(
        concurrent=settings.WEBSOCKET_MAX_PER_ADDRESS,
        rate=settings.WEBSOCKET_CONNECT_RATE,
        burst=settings.WEBSOCKET_CONNECT_BURST,
        clock=lambda: 0.0,
    )
    assert [gate.admit("203.0.113.7") for _ in range(5000)] == [None] * 5000
    assert gate.admit("203.0.113.7") is not None
