"""The reader's websocket: a read-only pipe from the session's stream to the browser.

Protocol (docs/realtime.md): connect to /ws/sessions/<id>/?after=SEQ; the server sends
every change after SEQ in sequence order, then {"type": "caught_up", "seq": N}, then live
changes, which the in-process hub (realtime/hub.py) writes to every reader of the session.
Clients may only send {"type": "ping"}; anything else closes the socket. The readers' count
({"type": "readers", "count": N}) comes every few seconds when it changes
(realtime/audience.py); a console's socket (`console=1`) hears it but is not counted.

Each worker admits a limited number of sockets per client address (ConnectionGate); a
signed-in reader's socket also listens on its sign-in's group, so that signing out closes it.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import DEFAULT_CHANNEL_LAYER
from django.conf import settings
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver

from liveblog.ratelimit import ConnectionGate
from realtime import broadcast
from realtime.hub import Listener, SessionNotFound, get_hub, sink_for

logger = logging.getLogger(__name__)

CLOSE_BAD_REQUEST = 4400  # malformed `after`, or a client frame that is not a ping
CLOSE_NOT_FOUND = 4404  # no such session
CLOSE_RELOAD = 4205  # too far behind (or ahead): reload the page instead of replaying
CLOSE_TOO_SLOW = 4408  # not reading its frames; where the server can, the connection is cut
CLOSE_SIGNED_OUT = 4401  # the user signed out: reconnect (as who the browser is now)
CLOSE_BUSY = 4429  # too many sockets from this address: a "busy" message says when to retry
CLOSE_TRY_AGAIN_LATER = 1013  # the database is unreachable for a moment: reconnect with backoff


@functools.cache
def connection_gate() -> ConnectionGate:
    """This process's gate, from the settings (built again when a test changes them)."""
    return ConnectionGate(
        concurrent=settings.WEBSOCKET_MAX_PER_ADDRESS,
        rate=settings.WEBSOCKET_CONNECT_RATE,
        burst=settings.WEBSOCKET_CONNECT_BURST,
    )


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting.startswith("WEBSOCKET_"):
        connection_gate.cache_clear()


# (session id, after) -> ("ok" or "reload", payloads, cursor), or None for no such session.
CatchUpLoader = Callable[[int, int], tuple[str, list[dict[str, Any]], int] | None]


class SharedCatchUps:
    """Readers arriving together with the same cursor share one catch-up read.

    When a room reconnects at once (the venue's Wi-Fi came back), thousands of readers ask
    for the same changes after the same seq; each read is a database connection and a
    query in the one thread database_sync_to_async runs them in, which made a storm of
    5,000 take about a minute. A reader may only share a read that has not started yet:
    it joined the hub before asking, so a read that starts after it joined misses nothing
    it would not receive live. So there is at most one read in flight per (session,
    cursor), and the readers that ask meanwhile wait for the next one, which starts when
    that ends.
    """

    def __init__(self, load: CatchUpLoader) -> None:
        self.load = database_sync_to_async(load)
        # Per event loop (tests run several): key -> the next read's future, not yet started.
        self.waiting: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.running: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.tasks: set[asyncio.Task] = set()  # the loop keeps only weak references

    async def __call__(self, session_id: int, after: int):
        loop = asyncio.get_running_loop()
        waiting = self.waiting.setdefault(loop, {})
        key = (session_id, after)
        future = waiting.get(key)
        if future is None:
            future = waiting[key] = loop.create_future()
            # Retrieved even if every reader that waited for it has gone.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            task = loop.create_task(self._read(key, future))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await asyncio.shield(future)

    async def _read(self, key: tuple[int, int], future: asyncio.Future) -> None:
        loop = asyncio.get_running_loop()
        running = self.running.setdefault(loop, {})
        waiting = self.waiting[loop]
        while (previous := running.get(key)) is not None:
            await asyncio.wait([previous])
        if waiting.get(key) is future:
            del waiting[key]  # from now on, readers who ask wait for the next read
        running[key] = task = asyncio.current_task()
        try:
            result = await self.load(*key)
        except Exception as error:
            future.set_exception(error)
        except BaseException:
            future.cancel()  # the server is stopping
            raise
        else:
            future.set_result(result)
        finally:
            if running.get(key) is task:
                del running[key]


@functools.cache
def shared_catch_ups(load: CatchUpLoader) -> SharedCatchUps:
    return SharedCatchUps(load)


class SessionConsumer(AsyncWebsocketConsumer):
    """A reader's socket: catch-up through this consumer, live changes through the hub.

    What a catch-up holds is the stream's business (entries.stream.catch_up): the
    project's asgi.py hands it in, so this app never imports the apps above it.
    """

    def __init__(self, *args: Any, catch_up: CatchUpLoader, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load_catch_up = catch_up

    # The hub holds the session's one channel for the whole process, so a reader needs no
    # channel of its own; an alias that names no layer gives it none (AsyncConsumer.__call__).
    # A signed-in reader's socket takes one, to hear that its sign-in ended.
    channel_layer_alias = "liveblog.readers-use-the-hub"

    async def __call__(self, scope, receive, send) -> None:
        # AuthMiddleware has resolved the user before the consumer runs: no query here.
        user = scope.get("user")
        self.sign_in: str | None = None  # the group of this browser's sign-in, if any
        if user is not None and user.is_authenticated and scope.get("session") is not None:
            key = scope["session"].session_key
            if key:
                self.sign_in = broadcast.sign_in_group_name(key)
                self.channel_layer_alias = DEFAULT_CHANNEL_LAYER
        await super().__call__(scope, receive, send)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, a thread hop per
        # message. These handlers touch the database only inside database_sync_to_async,
        # which does that itself, so connects, pings and disconnects skip the hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.session_id = self.scope["url_route"]["kwargs"]["session_id"]
        self.listener: Listener | None = None
        self.address: str | None = None
        self.in_sign_in_group = False
        query = self.scope.get("query_string", b"")
        after = _parse_after(query)
        console = _parse_console(query)
        await self.accept()
        if after is None or console is None:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        address = gate_address(self.scope)
        retry_after = connection_gate().admit(address)
        if retry_after is not None:
            # daphne cannot answer a handshake with 429, so the socket says it instead.
            await self.send(broadcast.encode({"type": "busy", "retry_after": retry_after}))
            await self.close(code=CLOSE_BUSY)
            return
        self.address = address
        try:
            await self.start(after, counted=not console)
        except (OperationalError, InterfaceError) as error:
            # The database is restarting or its connections were cut: a known state, not
            # a bug, so one line in the log rather than daphne's traceback per socket, and
            # "try again later"; the page reconnects with backoff and catches up then.
            await self.leave()
            logger.warning("reader of session %s not caught up: %s", self.session_id, error)
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
        except BaseException:
            # The layer failed, the socket went mid catch-up, or the server cancelled us: no
            # disconnect will follow, so give back now what was taken, or the gate's count
            # and the hub's subscription outlive the reader.
            await self.leave()
            raise

    async def start(self, after: int, counted: bool = True) -> None:
        if self.sign_in is not None and self.channel_layer is not None:
            self.in_sign_in_group = True
            await self.channel_layer.group_add(self.sign_in, self.channel_name)
        # Join before reading the catch-up, so nothing committed in between is missed: the
        # hub holds live changes until the reader goes live, then skips those covered.
        self.hub = get_hub()
        listener = Listener(sink_for(self.base_send, CLOSE_TOO_SLOW), counted=counted)
        try:
            subscription = await self.hub.join(self.session_id, listener)
        except SessionNotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.listener = listener
        cursor = await self.catch_up(after, subscription.covers(after))
        if cursor is not None:
            listener.go_live(cursor)

    async def catch_up(self, after: int, at_head: bool) -> int | None:
        """Send what the reader missed and caught_up; the cursor, or None if it was closed."""
        if at_head:
            # Already at the newest change this process has seen: no database read.
            payloads, cursor = [], after
        else:
            result = await shared_catch_ups(self.load_catch_up)(self.session_id, after)
            if result is None:
                await self.close(code=CLOSE_NOT_FOUND)
                return None
            verdict, payloads, cursor = result
            if verdict == "reload":
                await self.send(broadcast.encode({"type": "reload", "seq": cursor}))
                await self.close(code=CLOSE_RELOAD)
                return None
        for payload in payloads:
            await self.send(broadcast.encode(payload))
        await self.send(broadcast.encode({"type": "caught_up", "seq": cursor}))
        return cursor

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # Channels' own also closes stale database connections, a thread hop per socket
        # that a room reconnecting at once queues by the thousand; this consumer's reads
        # go through database_sync_to_async, which does that itself (see dispatch).
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        await self.leave()

    async def leave(self) -> None:
        """Give back what connect() took: the gate's count, the hub's place, the group.

        Safe to call twice; the gate comes first, as it cannot fail or be interrupted.
        """
        if self.address is not None:
            connection_gate().release(self.address)
            self.address = None
        listener, self.listener = self.listener, None
        try:
            if listener is not None:
                await self.hub.leave(listener)
        finally:
            if self.in_sign_in_group:
                self.in_sign_in_group = False
                try:
                    await self.channel_layer.group_discard(self.sign_in, self.channel_name)
                except Exception:
                    # The channel is gone with the socket; the layer forgets it in time.
                    logger.warning("could not leave %s", self.sign_in, exc_info=True)

    async def user_signed_out(self, message: dict[str, Any]) -> None:
        # Channels would keep the old user on this socket: close it, and the page
        # reconnects as whoever the browser is now.
        await self.close(code=CLOSE_SIGNED_OUT)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Readers never write: the only frame a client may send is a keep-alive ping.
        try:
            message = json.loads(text_data) if text_data is not None else None
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("type") == "ping" and len(message) == 1:
            await self.send(broadcast.encode({"type": "pong"}))
            return
        await self.close(code=CLOSE_BAD_REQUEST)


def gate_address(scope: dict[str, Any]) -> str:
    """Who the gate counts: the client's address, or its /64 for IPv6 (one host's share)."""
    host = (scope.get("client") or ["unknown"])[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def _parse_console(query_string: bytes) -> bool | None:
    """`console=1`: the blogging console's socket, which hears the readers' count but is
    not one of them (realtime/audience.py). Absent or 0: a reader. Anything else is bad."""
    try:
        values = parse_qs(query_string.decode("ascii"), keep_blank_values=True).get("console")
    except UnicodeDecodeError:
        return None
    if not values:
        return False
    return {"0": False, "1": True}.get(values[-1])


def _parse_after(query_string: bytes) -> int | None:
    """The `after` cursor: absent means 0; anything but a small non-negative integer is bad."""
    try:
        values = parse_qs(query_string.decode("ascii"), keep_blank_values=True).get("after")
    except UnicodeDecodeError:
        return None
    if not values:
        return 0
    value = values[-1]
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        return None
    return int(value)
