"""The fan-out hub: one layer message per process, slow readers cut off, nothing lost."""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import socket

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from entries import actions, stream
from entries.models import Entry
from entries.stream import CatchUp
from liveblog.asgi import application
from realtime import hub
from realtime.consumers import SessionConsumer
from realtime.hub import AsgiSink, Frame, Listener, get_hub, text_frame
from tests.conftest import post_entry
from tests.test_realtime import connect, next_message, reader

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def layer_receives(monkeypatch):
    """Count the messages the channel layer hands to anyone in this process."""
    layer = get_channel_layer()
    received = []
    original = layer.receive

    async def counting(channel):
        message = await original(channel)
        received.append(channel)
        return message

    monkeypatch.setattr(layer, "receive", counting)
    return received


async def test_a_change_costs_one_layer_message_per_process_whatever_the_number_of_readers(
    session, blogger, layer_receives
):
    readers = [await connect(session.pk) for _ in range(25)]
    await sync_to_async(post_entry)(session, blogger, "One message for the whole room")
    for communicator in readers:
        assert (await next_message(communicator))["seq"] == 1
    assert len(layer_receives) == 1
    await sync_to_async(post_entry)(session, blogger, "And one more")
    for communicator in readers:
        assert (await next_message(communicator))["seq"] == 2
    assert len(layer_receives) == 2
    assert len(get_hub().subscriptions) == 1
    for communicator in readers:
        await communicator.disconnect()


async def test_each_process_subscribes_once_and_delivers_to_its_own_readers(
    session, blogger, layer_receives
):
    # Two hubs on one layer stand for two worker processes.
    layer = get_channel_layer()
    workers = [hub.Hub(layer), hub.Hub(layer)]
    inboxes = [[], []]
    listeners = []
    for worker, inbox in zip(workers, inboxes, strict=True):
        for _ in range(3):
            listener = Listener(RecordingSink(inbox))
            subscription = await worker.join(session.pk, listener)
            assert subscription.covers(0)
            listener.go_live(0)
            listeners.append((worker, listener))
    await sync_to_async(post_entry)(session, blogger, "Both workers hear this once")
    await wait_until(lambda: all(len(inbox) == 3 for inbox in inboxes))
    assert len(layer_receives) == 2
    for worker, listener in listeners:
        await worker.leave(listener)


async def test_the_subscription_ends_when_the_last_reader_leaves(session, blogger, layer_receives):
    first, second = await connect(session.pk), await connect(session.pk)
    subscription = get_hub().subscriptions[session.pk]
    await first.disconnect()
    await wait_until(lambda: len(subscription.listeners) == 1)
    assert get_hub().subscriptions[session.pk] is subscription
    await second.disconnect()
    await wait_until(lambda: session.pk not in get_hub().subscriptions)
    await wait_until(lambda: all(task.done() for task in subscription.tasks))
    # Nobody listens in this process any more, so a change reaches no one here.
    await sync_to_async(post_entry)(session, blogger, "Into the void")
    await asyncio.sleep(0.2)
    assert layer_receives == []
    # And the next reader subscribes afresh and is served.
    third = await connect(session.pk, "after=1")
    await sync_to_async(post_entry)(session, blogger, "Back again")
    assert (await next_message(third))["seq"] == 2
    await third.disconnect()


async def test_a_subscription_that_fails_to_start_is_cleaned_up_and_the_next_reader_served(
    session, blogger, monkeypatch
):
    layer = get_channel_layer()
    discarded = []
    original_discard = layer.group_discard

    async def recording_discard(group, channel):
        discarded.append(channel)
        await original_discard(group, channel)

    monkeypatch.setattr(layer, "group_discard", recording_discard)
    last_seq = hub._last_seq
    failures = [ConnectionError("database restarting")]

    async def flaky_last_seq(session_id):
        if failures:
            raise failures.pop()
        return await last_seq(session_id)

    monkeypatch.setattr(hub, "_last_seq", flaky_last_seq)
    unlucky = reader(session.pk)
    assert (await unlucky.connect())[0]
    with pytest.raises(ConnectionError):
        await unlucky.receive_output(timeout=3)
    assert len(discarded) == 1  # its channel had joined the group: it is gone again
    assert session.pk not in get_hub().subscriptions
    communicator = await connect(session.pk)
    await sync_to_async(post_entry)(session, blogger, "Served after all")
    assert (await next_message(communicator))["seq"] == 1
    await communicator.disconnect()


async def test_a_reader_that_stops_reading_is_dropped_without_holding_up_the_others(
    session, blogger, monkeypatch
):
    monkeypatch.setattr(hub, "READER_QUEUE_LIMIT", 3)
    readers = [await connect(session.pk) for _ in range(3)]
    stuck_sends = []

    async def never_returns(message):
        stuck_sends.append(message)
        await asyncio.Event().wait()

    stalled = Listener(AsgiSink(never_returns, close_code=4408))
    await get_hub().join(session.pk, stalled)
    stalled.go_live(0)
    for i in range(6):
        await sync_to_async(post_entry)(session, blogger, f"Entry {i}")
        for communicator in readers:
            assert (await next_message(communicator))["seq"] == i + 1
    assert stalled.dropped
    # It was sent the first frame (which never completed), then told to go.
    assert stuck_sends[-1] == {"type": "websocket.close", "code": 4408}
    telling_it_to_go = stalled.sink.task
    await get_hub().leave(stalled)
    await wait_until(telling_it_to_go.done)  # nothing is left waiting on a dead reader
    for communicator in readers:
        await communicator.disconnect()


async def test_a_change_committed_while_a_reader_catches_up_reaches_it_exactly_once(
    session, blogger, monkeypatch
):
    await sync_to_async(post_entry)(session, blogger, "Before")
    load = CatchUp.load

    def load_with_writes_around_it(self):
        post_entry(session, blogger, "Committed before the catch-up is read")
        result = load(self)
        post_entry(session, blogger, "Committed after the catch-up is read")
        return result

    monkeypatch.setattr(CatchUp, "load", load_with_writes_around_it)
    communicator = reader(session.pk, "after=0")
    assert (await communicator.connect())[0]
    messages = [await next_message(communicator) for _ in range(4)]
    assert [(m["type"], m["seq"]) for m in messages] == [
        ("entry", 1),
        ("entry", 2),
        ("caught_up", 2),
        ("entry", 3),
    ]
    assert await communicator.receive_nothing()
    await communicator.disconnect()


async def test_a_reader_at_the_head_goes_live_without_reading_the_database(
    session, blogger, monkeypatch
):
    await sync_to_async(post_entry)(session, blogger, "Seen on the page")
    watcher = await connect(session.pk, "after=1")

    def unexpected(self):
        raise AssertionError("a reader at the head needs no catch-up query")

    monkeypatch.setattr(CatchUp, "load", unexpected)
    communicator = reader(session.pk, "after=1")
    assert (await communicator.connect())[0]
    assert await next_message(communicator) == {"type": "caught_up", "seq": 1}
    await sync_to_async(post_entry)(session, blogger, "Live")
    assert (await next_message(communicator))["seq"] == 2
    for each in (watcher, communicator):
        await each.disconnect()


async def test_after_a_layer_failure_joining_readers_read_their_catch_up(session, blogger):
    watcher = await connect(session.pk)
    subscription = get_hub().subscriptions[session.pk]
    assert subscription.covers(0)
    subscription.trusted = False  # as _resubscribe leaves it until it is subscribed again
    await sync_to_async(post_entry)(session, blogger, "Maybe lost")
    assert (await next_message(watcher))["seq"] == 1
    assert not subscription.covers(1)
    communicator = reader(session.pk, "after=0")
    assert (await communicator.connect())[0]
    assert (await next_message(communicator))["seq"] == 1  # served from the database
    assert await next_message(communicator) == {"type": "caught_up", "seq": 1}
    await communicator.disconnect()
    await watcher.disconnect()


async def test_a_catch_up_renders_only_fragments_not_stored_yet(session, blogger, monkeypatch):
    for i in range(3):
        await sync_to_async(post_entry)(session, blogger, f"Entry {i}")
    # As entries loaded from an archive: their fragments are rendered at their first read.
    await Entry.objects.filter(seq__lte=2).aupdate(fragment="")
    renders = []
    original = stream.render_to_string

    def counting(name, context):
        renders.append(name)
        return original(name, context)

    monkeypatch.setattr(stream, "render_to_string", counting)
    for expected_renders in (2, 2):  # the second reader reads what the first one stored
        communicator = reader(session.pk, "after=0")
        assert (await communicator.connect())[0]
        messages = [await next_message(communicator) for _ in range(4)]
        assert [m["seq"] for m in messages] == [1, 2, 3, 3]
        assert "Entry 0" in messages[0]["html"] and "Entry 2" in messages[2]["html"]
        assert len(renders) == expected_renders
        await communicator.disconnect()


async def test_an_entry_changed_during_its_catch_up_is_sent_new_and_then_live(
    session, blogger, monkeypatch
):
    entry = await sync_to_async(post_entry)(session, blogger, "First draft")
    await sync_to_async(post_entry)(session, blogger, "Another")
    await Entry.objects.aupdate(fragment="")  # not stored: read whole after the narrow read
    narrow = stream.change_payload
    edited = []

    def edit_between_the_two_reads(*args, **kwargs):
        if not edited:
            edited.append(args)
            actions.edit_entry(
                entry=entry, body="Second draft"
            )  # commits between the narrow and the full read
        return narrow(*args, **kwargs)

    monkeypatch.setattr(stream, "change_payload", edit_between_the_two_reads)
    communicator = reader(session.pk, "after=0")
    assert (await communicator.connect())[0]
    first, second, caught_up, live = [await next_message(communicator) for _ in range(4)]
    assert (first["id"], first["seq"], first["action"]) == (entry.pk, 1, "created")
    assert "Second draft" in first["html"]
    assert second["seq"] == 2 and caught_up == {"type": "caught_up", "seq": 2}
    assert (live["id"], live["seq"], live["action"]) == (entry.pk, 3, "updated")
    await communicator.disconnect()


async def test_a_connection_that_fails_during_its_catch_up_leaves_no_subscription_behind(
    session, blogger, monkeypatch
):
    await sync_to_async(post_entry)(session, blogger, "Missed while away")

    async def failing_send(self, text_data=None, bytes_data=None, close=False):
        raise ConnectionError("the reader went away")

    monkeypatch.setattr(SessionConsumer, "send", failing_send)
    communicator = reader(session.pk, "after=0")
    assert (await communicator.connect())[0]
    with pytest.raises(ConnectionError):
        await communicator.receive_output(timeout=3)
    assert session.pk not in get_hub().subscriptions


async def test_only_a_socket_with_a_session_cookie_looks_the_user_up(
    session, blogger, user_lookups
):
    # Anonymous readers skip AuthMiddlewareStack's session and user lookup (a thread hop
    # per connect); a signed-in one still gets it, so that signing out can close its socket.
    lookups = user_lookups
    path = f"/ws/sessions/{session.pk}/"
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    anonymous = WebsocketCommunicator(application, path, headers=[*headers, (b"cookie", b"a=b")])
    assert (await anonymous.connect())[0]
    assert await next_message(anonymous) == {"type": "caught_up", "seq": 0}
    assert lookups == []

    client = Client()
    await sync_to_async(client.force_login)(blogger)
    cookie = f"csrftoken=x; sessionid={client.cookies['sessionid'].value}".encode()
    signed_in = WebsocketCommunicator(application, path, headers=[*headers, (b"cookie", cookie)])
    assert (await signed_in.connect())[0]
    assert await next_message(signed_in) == {"type": "caught_up", "seq": 0}
    assert [user.pk for user in lookups] == [blogger.pk]

    await sync_to_async(post_entry)(session, blogger, "Both hear it")
    for communicator in (anonymous, signed_in):
        assert (await next_message(communicator))["seq"] == 1
        await communicator.disconnect()


async def test_frames_are_encoded_once_and_framed_as_rfc_6455_says():
    assert text_frame(b"hi") == b"\x81\x02hi"
    assert text_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert text_frame(b"x" * 70000)[:10] == b"\x81\x7f" + (70000).to_bytes(8, "big")
    frame = Frame(7, "é")
    assert frame.wire is frame.wire and frame.wire == b"\x81\x02\xc3\xa9"


async def test_on_a_real_server_frames_go_straight_to_the_socket_and_a_stalled_reader_is_cut(
    session, blogger, monkeypatch
):
    uvicorn = pytest.importorskip("uvicorn")
    monkeypatch.setattr(hub, "READER_BUFFER_LIMIT", 32 * 1024)
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=0,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        stalled = await raw_websocket(port, session.pk, receive_buffer=2048)
        await wait_until(lambda: session.pk in get_hub().subscriptions)
        (stalled_listener,) = get_hub().subscriptions[session.pk].listeners
        # Keep the kernel from absorbing megabytes first (it autotunes loopback buffers).
        server_socket = stalled_listener.sink.transport.get_extra_info("socket")
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        fast = [await raw_websocket(port, session.pk) for _ in range(2)]
        for sock in fast:
            assert b'"caught_up"' in await read_frame(sock)
        listeners = get_hub().subscriptions[session.pk].listeners
        assert {type(listener.sink) for listener in listeners} == {hub.TransportSink}
        body = "A long entry that fills buffers quickly. " * 110
        for i in range(100):
            await sync_to_async(post_entry)(session, blogger, body)
            for sock in fast:
                assert f'"seq":{i + 1},'.encode() in await read_frame(sock)
            if len(listeners) == 2:
                break
        assert stalled_listener.dropped and len(listeners) == 2, "the stalled reader stayed"
        # The stalled reader's connection was aborted: what it reads ends in a reset or EOF.
        await read_until_closed(stalled)
        for sock in [stalled, *fast]:
            sock.close()
    finally:
        server.should_exit = True
        await serving


class RecordingSink:
    def __init__(self, inbox: list) -> None:
        self.inbox = inbox

    def write(self, frame: Frame) -> bool:
        self.inbox.append(frame.seq)
        return True

    def drop(self) -> None:
        raise AssertionError("not expected")

    def close(self) -> None:
        pass


async def wait_until(condition, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


async def raw_websocket(port: int, session_id: int, receive_buffer: int = 0) -> socket.socket:
    """A bare websocket connection; a small receive buffer makes a reader that stalls fast."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        (
            f"GET /ws/sessions/{session_id}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Origin: http://127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += await loop.sock_recv(sock, 1)
    assert response.startswith(b"HTTP/1.1 101")
    return sock


async def read_until_closed(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
        except ConnectionResetError:
            return
        if not chunk:
            return


async def read_frame(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()

    async def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, count - len(data)), 3)
            assert chunk, "connection closed"
            data += chunk
        return data

    head = await exactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await exactly(8), "big")
    return await exactly(length)


class RaisingSink(RecordingSink):
    """A socket whose write raises something no one foresaw."""

    def write(self, frame: Frame) -> bool:
        raise RuntimeError("the transport broke in a new way")

    def drop(self) -> None:
        raise OSError("and so does closing it")


async def test_a_reader_whose_socket_raises_never_stops_the_others_fan_out(
    session, blogger, caplog
):
    received = [[], []]
    listeners = [
        Listener(RecordingSink(received[0])),
        Listener(RaisingSink([])),
        Listener(RecordingSink(received[1])),
    ]
    for listener in listeners:
        await get_hub().join(session.pk, listener)
        listener.go_live(0)
    subscription = get_hub().subscriptions[session.pk]
    for seq in (1, 2):
        subscription.deliver({"type": "stream.change", "seq": seq, "text": "{}"})
    assert received == [[1, 2], [1, 2]]
    assert listeners[1].dropped  # dropped at its first failure, skipped after
    assert caplog.text.count("socket failed") == 1
    for listener in listeners:
        await get_hub().leave(listener)
    assert session.pk not in get_hub().subscriptions


def test_the_private_twisted_and_autobahn_state_the_hub_writes_through_is_there():
    """TwistedSink reads what Twisted keeps unsent and autobahn's state (no public getters);
    pyproject pins daphne, Twisted and autobahn to the versions this is tested on."""
    from autobahn.websocket.protocol import WebSocketProtocol
    from daphne.ws_protocol import WebSocketProtocol as DaphneProtocol
    from twisted.internet import tcp
    from twisted.internet.abstract import FileDescriptor

    descriptor = FileDescriptor()
    assert descriptor.dataBuffer == b"" and descriptor.offset == 0
    assert descriptor._tempDataLen == 0 and descriptor._writeDisconnected is False
    assert issubclass(tcp.Connection, FileDescriptor) and hasattr(tcp.Connection, "connected")
    assert issubclass(DaphneProtocol, WebSocketProtocol)
    assert isinstance(WebSocketProtocol.STATE_OPEN, int)
    # Both set as a connection opens: compression None unless negotiated, state OPEN.
    source = inspect.getsource(inspect.getmodule(WebSocketProtocol))
    assert "self._perMessageCompress = None" in source
    assert "self.state = WebSocketProtocol.STATE_OPEN\n" in source


async def test_a_lost_last_change_is_told_to_readers_as_the_streams_head(
    session, blogger, monkeypatch
):
    """The session's final change whose broadcast the layer lost: no later change shows the
    hole, so the hub reads the head now and then and tells its readers (docs/realtime.md)."""
    monkeypatch.setattr(hub, "HEAD_CHECK_SECONDS", 0.05)
    communicator = await connect(session.pk)

    class Down:
        async def group_send(self, *args, **kwargs):
            raise ConnectionError("redis restarting")

    with monkeypatch.context() as redis_down:
        redis_down.setattr("realtime.broadcast.get_channel_layer", lambda: Down())
        await sync_to_async(actions.set_session_status)(session=session, status="ended")
    assert await next_message(communicator) == {"type": "head", "seq": 1}
    # Told once, not at every check.
    assert await communicator.receive_nothing(timeout=0.3)
    # The reader catches up from its cursor and gets what it missed.
    await communicator.disconnect()
    again = reader(session.pk, "after=0")
    assert (await again.connect())[0]
    missed = await next_message(again)
    assert (missed["type"], missed["status"], missed["seq"]) == ("status", "ended", 1)
    assert await next_message(again) == {"type": "caught_up", "seq": 1}
    await again.disconnect()


async def test_changes_that_arrive_are_never_told_as_lost(session, blogger, monkeypatch):
    monkeypatch.setattr(hub, "HEAD_CHECK_SECONDS", 0.05)
    communicator = await connect(session.pk)
    for i in range(3):
        await sync_to_async(post_entry)(session, blogger, f"Entry {i}")
        assert (await next_message(communicator))["seq"] == i + 1
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_readers_are_told_the_head_when_the_subscription_comes_back_after_a_layer_failure(
    session, blogger, monkeypatch
):
    """The layer fails under the subscription (Redis restarting, CHANNEL_LAYER=redis) and a
    change is committed meanwhile: subscribing again reads the session's head, so the
    periodic check would never see it as lost; the readers behind are told at once."""
    monkeypatch.setattr(hub, "RETRY_SECONDS", 0.01)
    monkeypatch.setattr(hub, "HEAD_CHECK_SECONDS", 3600.0)  # only the resubscription tells
    layer = get_channel_layer()
    original = layer.receive
    failing = asyncio.Event()

    async def receive_until_the_layer_fails(channel):
        if failing.is_set():
            return await original(channel)
        await failing.wait()  # nothing reaches the subscription until the layer fails
        raise ConnectionError("redis restarting")

    monkeypatch.setattr(layer, "receive", receive_until_the_layer_fails)
    communicator = await connect(session.pk)

    class Down:
        async def group_send(self, *args, **kwargs):
            raise ConnectionError("redis restarting")

    with monkeypatch.context() as redis_down:
        redis_down.setattr("realtime.broadcast.get_channel_layer", lambda: Down())
        await sync_to_async(actions.set_session_status)(session=session, status="ended")
    failing.set()
    assert await next_message(communicator) == {"type": "head", "seq": 1}
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
