"""The in-process fan-out hub: one channel-layer subscription per live session per process.

A change reaches each process once, whatever its number of readers. For every session with
readers here, the hub holds one channel on the layer, joined to the session's group; it
receives each change that broadcast.py sends, frames it once as a websocket text frame and
writes those bytes to every local reader. Pushing costs no per-reader channel, task,
database access or thread hop.

Where the server allows it (daphne, and uvicorn's websockets-sansio protocol without
compression), the frame goes straight to the connection's transport: one write per reader.
Elsewhere (the test communicator, other servers) it goes through the reader's ASGI send,
from a drain task that lives only while frames wait.

A reader that stops reading cannot hold the others back: once more than
READER_BUFFER_LIMIT bytes wait for it, it is dropped, and it catches up on reconnect.

Joining happens before the reader's catch-up is read, so nothing committed in between is
lost: frames that arrive while a reader catches up are held, and those its catch-up
already covered are skipped when it goes live. See docs/realtime.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import struct
import sys
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from realtime import audience, broadcast
from sessions.models import Session

logger = logging.getLogger(__name__)

# Bytes that may wait in the server's buffer for one reader before it is dropped: about 250
# one-kilobyte entries, far more than a reader that is merely slow ever falls behind.
READER_BUFFER_LIMIT = 256 * 1024
# Frames held for a reader that is still catching up, or queued on the ASGI route.
READER_QUEUE_LIMIT = 256
# Join the group again this often: the Redis layers forget members after a day.
GROUP_REFRESH_SECONDS = 3600.0
# How often each subscription compares its head with the session's in the database: a
# change whose broadcast was lost (the layer down as it was sent) is noticed within two.
HEAD_CHECK_SECONDS = 5.0
# After the channel layer fails, wait this long before subscribing again.
RETRY_SECONDS = 1.0

Send = Callable[[dict[str, Any]], Awaitable[None]]


class SessionNotFound(Exception):
    """The session a reader asked for does not exist."""


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked websocket text frame (RFC 6455, section 5.2), as servers send."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


class Frame:
    """One change as every reader in the process receives it, encoded once.

    A frame without a seq (the readers' count) is no change of the stream: only readers
    already live get it.
    """

    __slots__ = ("_wire", "seq", "text")

    def __init__(self, seq: int | None, text: str) -> None:
        self.seq = seq
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = text_frame(self.text.encode())
        return self._wire


class Sink(Protocol):
    def write(self, frame: Frame) -> bool:
        """Send the frame; False when the reader is too far behind to keep."""

    def drop(self) -> None:
        """Cut off a reader that does not keep up."""

    def close(self) -> None:
        """Forget anything still waiting (the connection has ended)."""


class TransportSink:
    """uvicorn's websockets-sansio protocol: frames go straight to its asyncio transport."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.transport = protocol.transport

    def write(self, frame: Frame) -> bool:
        if self.protocol.close_sent or self.transport.is_closing():
            return True  # closing anyway: nothing more to send
        self.transport.write(frame.wire)
        return self.transport.get_write_buffer_size() <= READER_BUFFER_LIMIT

    def drop(self) -> None:
        self.transport.abort()

    def close(self) -> None:
        pass


class TwistedSink:
    """daphne's autobahn protocol over plain TCP: frames go straight to the socket.

    Twisted's own write() only queues and waits a reactor turn for the socket to be
    writable; when nothing is queued this sends at once, as asyncio transports do, and
    hands Twisted only what the socket would not take.
    """

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.transport = protocol.transport

    def write(self, frame: Frame) -> bool:
        protocol, transport = self.protocol, self.transport
        if protocol.state != protocol.STATE_OPEN or not transport.connected:
            return True
        # What Twisted holds unsent: the unwritten part of dataBuffer and the writes since
        # its last flush (FileDescriptor keeps both; there is no public getter).
        waiting = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        data = frame.wire
        if waiting == 0 and not transport._writeDisconnected:
            try:
                sent = transport.socket.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                return True  # the connection is failing; Twisted notices and closes it
            if sent == len(data):
                return True
            data = data[sent:]
        transport.write(data)
        return waiting + len(data) <= READER_BUFFER_LIMIT

    def drop(self) -> None:
        self.transport.abortConnection()

    def close(self) -> None:
        pass


class AsgiSink:
    """The portable route: frames go through the reader's ASGI send, from a drain task."""

    def __init__(self, send: Send, close_code: int) -> None:
        self.send = send
        self.close_code = close_code
        self.queue: deque[str] = deque()
        self.task: asyncio.Task[None] | None = None

    def write(self, frame: Frame) -> bool:
        self.queue.append(frame.text)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return len(self.queue) <= READER_QUEUE_LIMIT

    async def _drain(self) -> None:
        try:
            while self.queue:
                await self.send({"type": "websocket.send", "text": self.queue.popleft()})
        except Exception:
            # The connection is gone; its disconnect follows and removes the reader.
            self.queue.clear()
        finally:
            if self.task is asyncio.current_task():
                self.task = None

    def drop(self) -> None:
        self.close()
        self.task = asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        with contextlib.suppress(Exception):  # already gone: nothing to tell it
            await self.send({"type": "websocket.close", "code": self.close_code})

    def close(self) -> None:
        self.queue.clear()
        if self.task is not None:
            self.task.cancel()
            self.task = None


def sink_for(send: Send, close_code: int) -> Sink:
    """The fastest way to write frames to the connection behind an ASGI `send`.

    close_code is what a dropped reader is told where the connection cannot just be cut.
    """
    send = _unwrap(send)
    daphne = sys.modules.get("daphne.ws_protocol")
    tcp = sys.modules.get("twisted.internet.tcp")
    if (
        daphne is not None
        and tcp is not None
        and isinstance(send, functools.partial)
        and send.args
        and isinstance(send.args[0], daphne.WebSocketProtocol)
        and send.args[0]._perMessageCompress is None
        and isinstance(send.args[0].transport, tcp.Connection)  # not TLS: it has its own buffer
    ):
        return TwistedSink(send.args[0])
    uvicorn = sys.modules.get("uvicorn.protocols.websockets.websockets_sansio_impl")
    protocol = getattr(send, "__self__", None)
    if (
        uvicorn is not None
        and isinstance(protocol, uvicorn.WebSocketsSansIOProtocol)
        and not protocol.conn.extensions
    ):
        return TransportSink(protocol)
    return AsgiSink(send, close_code)


def _unwrap(send: Send) -> Send:
    """See through Channels' session middleware, which wraps send only to save sessions."""
    sessions = sys.modules.get("channels.sessions")
    owner = getattr(send, "__self__", None)
    while sessions is not None and isinstance(owner, sessions.InstanceSessionWrapper):
        send = owner.real_send
        owner = getattr(send, "__self__", None)
    return send


class Listener:
    """One reader's place in its session's subscription.

    counted: whether it is one of the session's audience (a console's socket is not).
    """

    __slots__ = ("counted", "cursor", "dropped", "held", "sink", "subscription")

    def __init__(self, sink: Sink, counted: bool = True) -> None:
        self.sink = sink
        self.counted = counted
        self.cursor: int | None = None  # None while catching up
        self.held: list[Frame] = []
        self.dropped = False
        self.subscription: Subscription | None = None

    def push(self, frame: Frame) -> None:
        if self.dropped:
            return
        if self.cursor is None:
            if frame.seq is None:
                return  # the count: go_live sends the latest
            self.held.append(frame)
            if len(self.held) > READER_QUEUE_LIMIT:
                self.drop()
        elif (frame.seq is None or frame.seq > self.cursor) and not self.sink.write(frame):
            self.drop()

    def go_live(self, cursor: int) -> None:
        """The reader has every change up to cursor: send what was held after it, then all."""
        self.cursor = cursor
        held, self.held = self.held, []
        for frame in held:
            self.push(frame)
        if self.subscription is not None and self.subscription.readers_frame is not None:
            self.push(self.subscription.readers_frame)

    def drop(self) -> None:
        self.dropped = True
        self.held = []
        self.sink.drop()

    def close(self) -> None:
        self.dropped = True
        self.sink.close()


@database_sync_to_async
def _last_seq(session_id: int) -> int | None:
    return Session.objects.filter(pk=session_id).values_list("last_seq", flat=True).first()


class Subscription:
    """A session's one channel on the layer in this process, and its local readers."""

    def __init__(self, layer: Any, session_id: int) -> None:
        self.layer = layer
        self.session_id = session_id
        self.group = broadcast.group_name(session_id)
        self.listeners: set[Listener] = set()
        self.channel: str | None = None
        # The highest seq known here: the session's last_seq once subscribed, then every
        # change received. trusted is False while a layer failure may have lost changes.
        self.head = 0
        self.trusted = False
        self.delivered = 0
        # The readers' count last told this session's sockets here (realtime/audience.py).
        self.readers_told: int | None = None
        self.readers_frame: Frame | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.ensure_future(self._start())

    def covers(self, after: int) -> bool:
        """Whether a reader who has every change up to `after` needs no catch-up.

        The channel joined the group before head was read, so every change after head
        reaches this subscription; a reader at head has everything before it.
        """
        return self.trusted and after == self.head

    async def _start(self) -> None:
        self.channel = await self.layer.new_channel()
        await self._subscribe()
        loop = asyncio.get_running_loop()
        self.tasks = [
            loop.create_task(self._receive()),
            loop.create_task(self._refresh()),
            loop.create_task(self._watch_head()),
        ]

    async def _subscribe(self) -> None:
        await self.layer.group_add(self.group, self.channel)
        last_seq = await _last_seq(self.session_id)
        if last_seq is None:
            raise SessionNotFound(self.session_id)
        self.head = max(self.head, last_seq)
        self.trusted = True

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except Exception:
                logger.exception("receiving for session %s failed", self.session_id)
                await self._resubscribe()
                continue
            self.deliver(message)

    async def _resubscribe(self) -> None:
        # Changes may have been lost meanwhile: every reader who joins reads its catch-up,
        # and the readers here are told the head the database has now. (Subscribing reads it
        # into self.head, so the periodic check would never see those changes as lost.)
        self.trusted = False
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            try:
                before = self.head
                await self._subscribe()
                if self.head > before:
                    self._tell_head(self.head)
                return
            except Exception:
                logger.exception("subscribing to session %s failed", self.session_id)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            try:
                await self.layer.group_add(self.group, self.channel)
            except Exception:
                logger.exception("refreshing session %s's group failed", self.session_id)

    async def _watch_head(self) -> None:
        """Tell readers the stream's head when a committed change never arrived here.

        Readers find a lost change by the hole it leaves, but not when it was the last one
        (the session's final entry, its end): nothing later shows the hole. So now and then
        the subscription reads the session's last_seq (one query per session per process);
        a change committed by one check that has still not arrived by the next was lost,
        and every reader gets {"type": "head", "seq": N}: one behind it catches up.
        """
        committed = 0  # the database's head at the previous check
        told = 0
        while True:
            await asyncio.sleep(HEAD_CHECK_SECONDS)
            if committed > self.head and committed > told:
                told = committed
                logger.warning(
                    "session %s: changes up to %s never arrived; readers told to catch up",
                    self.session_id,
                    committed,
                )
                self._tell_head(committed)
            try:
                committed = await _last_seq(self.session_id) or 0
            except Exception:
                logger.exception("reading session %s's head failed", self.session_id)

    def deliver(self, message: dict[str, Any]) -> None:
        if message.get("type") != broadcast.STREAM_CHANGE:
            logger.warning("ignored a %r message on session %s", message.get("type"), self.group)
            return
        frame = Frame(message["seq"], message["text"])
        if frame.seq > self.head:
            self.head = frame.seq
        self.delivered += 1
        self._tell_all(frame)

    def _tell_head(self, seq: int) -> None:
        """Readers below seq catch up (live.js reconnects); the others ignore it."""
        self._tell_all(Frame(seq, broadcast.encode({"type": "head", "seq": seq})))

    def tell_readers(self, count: int) -> None:
        """Tell every live reader here how many follow the session, if that changed."""
        if count == self.readers_told:
            return
        self.readers_told = count
        self.readers_frame = Frame(None, broadcast.encode({"type": "readers", "count": count}))
        self._tell_all(self.readers_frame)

    def _tell_all(self, frame: Frame) -> None:
        failed = []
        for listener in self.listeners:
            try:
                listener.push(frame)
            except Exception:
                # One reader's broken socket never stops the others' fan-out: that reader
                # is dropped (it reconnects and catches up), the rest go on.
                logger.exception("dropped a reader of session %s whose socket failed", self.group)
                failed.append(listener)
        for listener in failed:
            # Marked dropped first, so it gets nothing more; its disconnect removes it.
            with contextlib.suppress(Exception):
                listener.drop()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if not self.ready.done():
            self.ready.cancel()
        if self.channel is not None:
            try:
                await self.layer.group_discard(self.group, self.channel)
            except Exception:
                logger.exception("leaving session %s's group failed", self.session_id)


class Hub:
    """Every subscription of one event loop (one per process when serving)."""

    def __init__(self, layer: Any) -> None:
        if layer is None:
            raise RuntimeError("live readers need a channel layer: set CHANNEL_LAYERS")
        self.layer = layer
        self.subscriptions: dict[int, Subscription] = {}
        self.audience = audience.Audience(lambda: self.subscriptions.values())
        self.audience.start(settings.AUDIENCE_TICK_SECONDS)

    async def join(self, session_id: int, listener: Listener) -> Subscription:
        """Subscribe the listener, and the process if it is the session's first reader here.

        Raises SessionNotFound for a session that does not exist.
        """
        subscription = self.subscriptions.get(session_id)
        if subscription is None or _failed(subscription.ready):
            subscription = self.subscriptions[session_id] = Subscription(self.layer, session_id)
        subscription.listeners.add(listener)
        listener.subscription = subscription
        if listener.counted:
            audience.arrive(session_id)
        try:
            await asyncio.shield(subscription.ready)
        except BaseException:
            await self.leave(listener)
            raise
        return subscription

    async def leave(self, listener: Listener) -> None:
        """Unsubscribe the listener, and the process when it was the last reader here."""
        listener.close()
        subscription = listener.subscription
        if subscription is None or listener not in subscription.listeners:
            return
        subscription.listeners.discard(listener)
        if listener.counted:
            audience.depart(subscription.session_id)
        if not subscription.listeners:
            # A subscription that failed to start may already have been replaced.
            if self.subscriptions.get(subscription.session_id) is subscription:
                del self.subscriptions[subscription.session_id]
            await subscription.close()


def _failed(future: asyncio.Future[None]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The running event loop's hub (tests run one loop per test; a server runs one)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
    return hub
