"""`make soak`: the production topology under faults, with a crowd of readers and a blogger.

Two workers (`python -m liveblog.server`, as `make run` and the image start them) behind
Caddy (deploy/Caddyfile), on a Redis and a PostgreSQL cluster this tool starts itself on
free loopback ports in a temporary directory, so that the machine's own services are never
touched. A crowd of readers (2,000 by default, one asyncio process) follows
docs/realtime.md through the proxy; a blogger posts through the API at a steady rate with
Idempotency-Keys, retrying every failure with the same key. Meanwhile the tool injects,
one after another with time to recover between: a worker killed with SIGKILL and started
again, Redis restarted, PostgreSQL's connections cut, PostgreSQL restarted, a fifth of the
readers losing their network for 30 s (sockets silently dead, not closed), and the whole
crowd reconnecting at once.

At the end every reader's page is compared with the API: every entry exactly once and in
order, for every reader. Writes bench/results/soak.json, bench/results/soak.png and
docs/reliability.md (bench/soak_report.py); exits 1 if any reader is not exact, a post
was lost or doubled, or the blogger saw a 500.

    python -m bench.soak                 # 10 minutes, 2,000 readers
    python -m bench.soak --short         # about 2 minutes
    python -m bench.soak --readers 500 --duration 300 --keep
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime as dt
import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.client import Reader as FrameReader
from bench.client import _masked
from bench.run import machine, raise_fd_limit
from tests.multiworker_support import (
    Process,
    Topology,
    free_port,
    manage,
    production_env,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_OUTPUT = RESULTS / "soak.json"
DATABASE = "liveblog_soak"

# The page's client (static/js/live.js), as docs/realtime.md describes it.
PING_EVERY = 25.0  # {"type": "ping"} this often
GAP_WAIT = 3.0  # a hole open this long means a change never arrived: reconnect
BACKOFF_BASE = 0.5  # reconnect after 0.25 s + up to BASE * 2**attempt (full jitter) ...
BACKOFF_CAP = 30.0  # ... capped here
HANDSHAKE_TIMEOUT = 30.0  # a socket not caught up by then is given up and retried
PING_FRAME = _masked(0x81, b'{"type":"ping"}')

# The blogger: one post every POST_INTERVAL seconds; a request answered in no time counts
# as failed and is retried with the same Idempotency-Key, for at most GIVE_UP_AFTER.
POST_INTERVAL = 2.0
REQUEST_TIMEOUT = 10.0
GIVE_UP_AFTER = 120.0

NETWORK_LOSS_SECONDS = 30.0
SETTLE_TIMEOUT = 90.0  # after the last fault, every reader must reach the head by then

ENTRY_ID = re.compile(rb'"id":(\d+)')
SEQ = re.compile(rb'"seq":(\d+)')
CREATED_SEQ = re.compile(rb'data-created-seq=\\"(\d+)\\"')
ACTION = re.compile(rb'"action":"(\w+)"')


def now() -> float:
    return time.monotonic()


def say(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ---- Services the tool starts itself -------------------------------------------------------


def wait_for_port(port: int, process: Process | None = None, timeout: float = 60.0) -> None:
    deadline = now() + timeout
    while now() < deadline:
        if process is not None and not process.running():
            raise RuntimeError(f"{process.name} exited at start:\n{process.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout:.0f}s")


class Redis:
    """A throw-away redis-server on a free loopback port, no persistence."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("make soak needs redis-server (Debian package redis-server)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.starts = 0
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = Process(f"redis-{self.starts}", args, {}, self.workdir)
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class Postgres:
    """A PostgreSQL cluster of its own (initdb, pg_ctl) on a free loopback port.

    PostgreSQL refuses to run as root; as root, its commands run as the `postgres` user.
    """

    def __init__(self, workdir: Path) -> None:
        found = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/initdb"),
            key=lambda p: int(re.search(r"/(\d+)/bin", p).group(1)),
        )
        initdb = found[-1] if found else shutil.which("initdb")
        if initdb is None:
            raise SystemExit("make soak needs PostgreSQL's initdb and pg_ctl (postgresql)")
        self.bin = Path(initdb).parent
        self.dir = workdir / "postgres"
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")
            workdir.chmod(0o755)

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        self.start()
        self.admin(f'CREATE DATABASE "{DATABASE}"')

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, name: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def admin(self, statement: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []


# ---- The crowd -------------------------------------------------------------------------------


async def http(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = REQUEST_TIMEOUT,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on its own connection; raises OSError or TimeoutError."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    if body or method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head.encode() + b"\r\n" + body)
            response = await reader.read()
        finally:
            writer.close()
    head_end = response.find(b"\r\n\r\n")
    if head_end < 0:
        raise ConnectionError(f"no complete response ({len(response)} bytes)")
    lines = response[:head_end].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    response_headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        response_headers[name.strip().lower()] = value.strip()
    content = response[head_end + 4 :]
    if response_headers.get("transfer-encoding") == "chunked":
        content = dechunk(content)
    return status, response_headers, content


def dechunk(data: bytes) -> bytes:
    out, pos = b"", 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return out
        out += data[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


async def read_stream(port: int, session_id: int) -> tuple[list[dict], int]:
    """Every entry of the session from the API, as a reloaded page would have it."""
    entries: list[dict] = []
    after = 0
    while True:
        status, _, body = await http(
            port, "GET", f"/api/sessions/{session_id}/entries?after={after}&limit=500"
        )
        if status != 200:
            raise ConnectionError(f"the API answered {status}")
        page = json.loads(body)
        entries += page["entries"]
        after = page["last_seq"]
        if not page["has_more"]:
            return entries, after


class Connection(FrameReader):
    """One socket of a reader: bench/client.py's frame parsing, handed to the reader."""

    __slots__ = ("owner", "local_code")

    def __init__(self, crowd: Crowd, owner: SoakReader, request: bytes) -> None:
        super().__init__(crowd, request)
        self.owner = owner
        self.local_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.owner.conn = self
        if self.owner.frozen:
            transport.pause_reading()  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.owner.on_closed(self)

    def close(self, code: int) -> None:
        """Close from our side with `code`, as live.js does (4000 for a gap)."""
        self.local_code = code
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_masked(0x88, code.to_bytes(2, "big")))
            self.transport.close()


@dataclass
class SoakReader:
    """One reader's page: its entries in the order it shows them, and its cursor."""

    crowd: Crowd
    number: int
    cursor: int = 0
    seen: set[int] = field(default_factory=set)
    entries: dict[int, int] = field(default_factory=dict)  # entry id -> seq applied
    order: list[int] = field(default_factory=list)  # entry ids as shown, oldest first
    created_seqs: dict[int, int] = field(default_factory=dict)
    doubled: list[int] = field(default_factory=list)
    conn: Connection | None = None
    live: bool = False  # caught up on an open socket
    attempt: int = 0
    busy_until: float = 0.0
    gap_timer: asyncio.TimerHandle | None = None
    retry_timer: asyncio.TimerHandle | None = None
    reload_pending: bool = False
    frozen: bool = False
    connects: int = 0
    reloads: int = 0
    closes: Counter = field(default_factory=Counter)
    stopped: bool = False

    # -- the socket --------------------------------------------------------------------------

    def connect(self) -> None:
        self.retry_timer = None
        if self.stopped:
            return
        if self.frozen:  # no network: try again later, as the browser would
            self.retry_timer = self.crowd.loop.call_later(1.0, self.connect)
            return
        self.connects += 1
        self.crowd.loop.create_task(self._open())

    async def _open(self) -> None:
        crowd = self.crowd
        path = f"/ws/sessions/{crowd.session_id}/?after={self.cursor}"
        request = crowd.request(path, crowd.port)
        try:
            _, conn = await asyncio.wait_for(
                crowd.loop.create_connection(
                    lambda: Connection(crowd, self, request), "127.0.0.1", crowd.port
                ),
                timeout=HANDSHAKE_TIMEOUT,
            )
        except (OSError, TimeoutError):
            self.closes["refused"] += 1
            self.schedule_reconnect()
            return
        try:
            await asyncio.wait_for(asyncio.shield(conn.ready), timeout=HANDSHAKE_TIMEOUT)
        except TimeoutError:
            if self.conn is conn and conn.transport is not None:
                conn.transport.abort()  # on_closed reconnects
        except ConnectionError:
            pass  # refused or closed during the handshake: on_closed reconnects

    def on_closed(self, conn: Connection) -> None:
        if conn is not self.conn:
            return
        self.conn = None
        self.live = False
        if not conn.ready.done():
            conn.ready.set_exception(ConnectionError("closed"))
        if not conn.ready.cancelled():
            conn.ready.exception()  # retrieved: a socket that never got going is ordinary here
        code = conn.local_code or conn.close_code or 1006
        self.closes[code] += 1
        if self.gap_timer is not None:
            self.gap_timer.cancel()
            self.gap_timer = None
        if self.stopped:
            return
        if code in (4400, 4404):
            self.crowd.fatal.append(f"reader {self.number}: closed with {code}")
            return
        if code == 4205 or self.reload_pending:
            self.reload_pending = False
            self.crowd.loop.create_task(self.reload())
            return
        if code == 4401:
            self.attempt = 0
            self.connect()
            return
        self.schedule_reconnect()

    def schedule_reconnect(self) -> None:
        if self.stopped or self.retry_timer is not None:
            return
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**self.attempt)
        floor = max(0.0, self.busy_until - now())
        self.attempt += 1
        delay = floor + random.random() * max(ceiling, floor / 2) + 0.25
        self.retry_timer = self.crowd.loop.call_later(delay, self.connect)

    async def reload(self) -> None:
        """Told to reload (4205): read the whole stream from the API, as a new page would."""
        self.reloads += 1
        for attempt in range(20):
            try:
                entries, last_seq = await read_stream(self.crowd.port, self.crowd.session_id)
                break
            except (OSError, TimeoutError, ValueError):
                await asyncio.sleep(min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
        else:
            self.crowd.fatal.append(f"reader {self.number}: the page could not be reloaded")
            return
        shown = sorted((e for e in entries if not e["deleted"]), key=lambda e: e["created_seq"])
        self.entries = {e["id"]: e["seq"] for e in shown}
        self.created_seqs = {e["id"]: e["created_seq"] for e in shown}
        self.order = [e["id"] for e in shown]
        self.seen.clear()
        self.crowd.advance(self, max(self.cursor, last_seq))
        self.attempt = 0
        self.connect()

    def ping(self) -> None:
        conn = self.conn
        if (
            conn is not None
            and not self.frozen
            and conn.transport is not None
            and not conn.handshaking
            and not conn.transport.is_closing()
        ):
            conn.transport.write(PING_FRAME)

    # -- the protocol ------------------------------------------------------------------------

    def on_text(self, conn: Connection, payload: bytes) -> None:
        if conn is not self.conn:
            return
        kind = payload[8:20]  # after '{"type":', as the server encodes it (compact)
        if kind.startswith((b'"entry"', b'"status"')):
            seq = int(SEQ.search(payload).group(1))
            if seq <= self.cursor or seq in self.seen:
                return  # applied already: at most once
            if kind.startswith(b'"entry"'):
                self.apply_entry(payload, seq)
            self.mark_applied(seq)
        elif kind.startswith(b'"caught_up"'):
            seq = int(SEQ.search(payload).group(1))
            if seq > self.cursor:
                self.seen = {s for s in self.seen if s > seq}
                self.crowd.advance(self, seq)
                self.advance_over_seen()
            self.watch_for_hole()
            self.attempt = 0
            self.live = True
            if not conn.ready.done():
                conn.ready.set_result(now())
        elif kind.startswith(b'"head"'):
            seq = int(SEQ.search(payload).group(1))
            self.crowd.heads_told += 1
            if seq > self.cursor:
                conn.close(4000)
        elif kind.startswith(b'"reload"'):
            self.reload_pending = True
        elif kind.startswith(b'"busy"'):
            retry_after = json.loads(payload).get("retry_after") or 0
            self.busy_until = now() + float(retry_after)
            self.crowd.busy += 1

    def apply_entry(self, payload: bytes, seq: int) -> None:
        entry_id = int(ENTRY_ID.search(payload).group(1))
        action = ACTION.search(payload).group(1)
        if action == b"deleted":
            if entry_id in self.entries:
                del self.entries[entry_id]
                self.order.remove(entry_id)
            return
        match = CREATED_SEQ.search(payload)
        created_seq = int(match.group(1)) if match else seq
        if action == b"created" and entry_id in self.entries:
            self.doubled.append(entry_id)  # a second copy: the page would show it twice
        if action == b"created" or entry_id not in self.entries:
            # New, restored, or updated while hidden here: in its place by created_seq,
            # as live.js places it (a catch-up can bring one older than those shown).
            if self.order and created_seq < self.created_seqs[self.order[-1]]:
                self.crowd.placed_between += 1
            keys = [self.created_seqs[i] for i in self.order]
            self.order.insert(bisect.bisect(keys, created_seq), entry_id)
        self.entries[entry_id] = seq
        self.created_seqs[entry_id] = created_seq

    def mark_applied(self, seq: int) -> None:
        self.crowd.first_arrival.setdefault(seq, now())
        self.seen.add(seq)
        self.advance_over_seen()
        self.watch_for_hole()

    def watch_for_hole(self) -> None:
        """As live.js: 3 s from when a hole opens (later changes do not put it off)."""
        if not self.seen:
            if self.gap_timer is not None:
                self.gap_timer.cancel()
                self.gap_timer = None
        elif self.gap_timer is None:
            self.gap_timer = self.crowd.loop.call_later(GAP_WAIT, self.on_gap)

    def advance_over_seen(self) -> None:
        cursor = self.cursor
        while cursor + 1 in self.seen:
            cursor += 1
            self.seen.discard(cursor)
        if cursor > self.cursor:
            self.crowd.advance(self, cursor)

    def on_gap(self) -> None:
        self.gap_timer = None
        self.crowd.gaps += 1
        if self.conn is not None:
            self.conn.close(4000)

    # -- faults ------------------------------------------------------------------------------

    def freeze(self) -> None:
        """The network is gone: nothing is read, nothing is sent, and nothing is closed."""
        self.frozen = True
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.pause_reading()

    def thaw(self) -> None:
        self.frozen = False
        if self.conn is not None and self.conn.transport is not None:
            with contextlib.suppress(RuntimeError):
                self.conn.transport.resume_reading()

    def drop(self) -> None:
        """The connection is cut under the reader (its Wi-Fi blipped)."""
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.abort()

    def stop(self) -> None:
        self.stopped = True
        for timer in (self.gap_timer, self.retry_timer):
            if timer is not None:
                timer.cancel()
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.abort()


class Crowd:
    """Every reader, in this one process; the stand-in `bench` object of the frame parser."""

    def __init__(self, count: int, port: int, session_id: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.port = port
        self.session_id = session_id
        self.wait_caught_up = True
        self.lost = 0
        self.readers = [SoakReader(self, i) for i in range(count)]
        # For each seq: how many readers' cursors have passed it, and when the last one did.
        self.reached: Counter = Counter()
        self.reached_last: dict[int, float] = {}
        self.first_arrival: dict[int, float] = {}  # when a change first reached any reader
        self.fatal: list[str] = []
        self.gaps = 0
        self.heads_told = 0
        self.busy = 0
        self.placed_between = 0  # entries that arrived after a newer one (a filled hole)
        self.pinger: asyncio.Task | None = None

    def request(self, path: str, port: int) -> bytes:
        """bench/client.py's handshake request (it uses nothing of its Bench but the args)."""
        from bench.client import Bench

        return Bench.request(self, path, port)  # type: ignore[arg-type]

    def on_text(self, conn: Connection, payload: bytes, _now: float) -> None:
        conn.owner.on_text(conn, payload)

    def advance(self, reader: SoakReader, cursor: int) -> None:
        t = now()
        for seq in range(reader.cursor + 1, cursor + 1):
            self.reached[seq] += 1
            self.reached_last[seq] = t
        reader.cursor = cursor

    def everyone_at(self, seq: int) -> float | None:
        """When the last reader's cursor passed seq, if all have."""
        if seq <= 0:
            return 0.0
        if self.reached[seq] >= len(self.readers):
            return self.reached_last[seq]
        return None

    async def open(self, after: int, rate: float) -> None:
        for reader in self.readers:
            reader.cursor = after
        for i, reader in enumerate(self.readers):
            reader.connect()
            if i % 100 == 99:
                await asyncio.sleep(100 / rate)
        self.pinger = self.loop.create_task(self.ping_forever())

    async def ping_forever(self) -> None:
        """Each reader pings every PING_EVERY seconds, spread over the interval."""
        tick = 1.0
        per_tick = max(1, round(len(self.readers) * tick / PING_EVERY))
        position = 0
        while True:
            await asyncio.sleep(tick)
            for _ in range(per_tick):
                self.readers[position % len(self.readers)].ping()
                position += 1

    def live_count(self) -> int:
        return sum(1 for r in self.readers if r.live and not r.frozen)

    def at_least(self, seq: int) -> int:
        return sum(1 for r in self.readers if r.cursor >= seq)

    def stop(self) -> None:
        if self.pinger is not None:
            self.pinger.cancel()
        for reader in self.readers:
            reader.stop()


# ---- The blogger ----------------------------------------------------------------------------


@dataclass
class Post:
    number: int
    key: str
    started: float
    attempts: list[dict] = field(default_factory=list)
    outcome: str = ""  # created, replayed, gave up
    seq: int | None = None
    entry_id: int | None = None
    answered: float | None = None
    sent: float | None = None  # when the attempt that was answered 200 or 201 began


class Blogger:
    """Posts through the proxy at a steady rate, in order, as the console's outbox does."""

    def __init__(self, port: int, session_id: int, token: str, interval: float) -> None:
        self.port = port
        self.session_id = session_id
        self.token = token
        self.interval = interval
        self.posts: list[Post] = []
        self.head = 0  # the highest seq a post of ours was answered with
        self.stopping = False
        self.t0 = now()

    async def run(self) -> None:
        number = 0
        next_at = now()
        while not self.stopping:
            await asyncio.sleep(max(0.0, next_at - now()))
            if self.stopping:
                return
            number += 1
            await self.post(number)
            next_at += self.interval

    async def post(self, number: int) -> None:
        post = Post(number, str(uuid.uuid4()), now())
        self.posts.append(post)
        body = json.dumps({"kind": "text", "body": f"Soak post {number}: {post.key[:8]}"})
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": post.key,
        }
        attempt = 0
        while now() - post.started < GIVE_UP_AFTER:
            attempt += 1
            at = now()
            retry_after = None
            try:
                status, response_headers, content = await http(
                    self.port,
                    "POST",
                    f"/api/sessions/{self.session_id}/entries",
                    headers,
                    body.encode(),
                )
            except (OSError, TimeoutError) as error:
                result = type(error).__name__
            else:
                result = str(status)
                retry_after = response_headers.get("retry-after")
                if status in (200, 201):
                    entry = json.loads(content)
                    post.attempts.append({"at": at, "result": result})
                    post.outcome = "created" if status == 201 else "replayed"
                    post.seq, post.entry_id = entry["seq"], entry["id"]
                    post.answered = now()
                    post.sent = at
                    self.head = max(self.head, post.seq)
                    return
            post.attempts.append({"at": at, "result": result})
            delay = min(5.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            if retry_after and retry_after.isdigit():
                delay = max(delay, float(retry_after))
            await asyncio.sleep(delay)
        post.outcome = "gave up"


# ---- Faults -----------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    title: str
    minimum: float  # seconds the fault itself takes, before recovery time
    started: float = 0.0
    restored: float = 0.0
    recovered: float | None = None  # every reader live again and past head_at_restore
    head_at_restore: int = 0
    detail: str = ""


FAULTS = [
    Fault("worker_killed", "A worker killed with SIGKILL, started again 5 s later", 10),
    Fault("redis_restarted", "Redis stopped and started again 3 s later (its data lost)", 5),
    Fault("postgres_connections_cut", "Every PostgreSQL connection cut (pg_terminate_backend)", 1),
    Fault("postgres_restarted", "PostgreSQL stopped (fast) and started again 5 s later", 10),
    Fault("network_lost", "A fifth of the readers' network gone for 30 s, sockets left open", 30),
    Fault(
        "reconnect_storm", "Every reader's connection cut at once: the whole crowd reconnects", 1
    ),
]


class Soak:
    def __init__(self, args, topology: Topology, redis: Redis, postgres: Postgres, ids) -> None:
        self.args = args
        self.topology = topology
        self.redis = redis
        self.postgres = postgres
        self.session_id = ids["session"]
        self.token = ids["token"]
        self.proxy_port = topology.proxy[1]
        self.timeline: list[dict] = []
        self.faults = [Fault(f.name, f.title, f.minimum) for f in FAULTS]

    async def inject(self, fault: Fault, crowd: Crowd) -> None:
        if fault.name == "worker_killed":
            name = "worker-a"
            process, port = self.topology.workers[name]
            os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait()
            process.stop()
            process.log_path.rename(process.log_path.with_suffix(".killed.log"))
            fault.detail = f"{name} on port {port}"
            await asyncio.sleep(5)
            await asyncio.to_thread(self.topology.start_worker, name, port)
        elif fault.name == "redis_restarted":
            self.redis.stop()
            await asyncio.sleep(3)
            await asyncio.to_thread(self.redis.start)
        elif fault.name == "postgres_connections_cut":
            rows = await asyncio.to_thread(
                self.postgres.admin,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()",
            )
            fault.detail = f"{len(rows)} connections cut"
        elif fault.name == "postgres_restarted":
            await asyncio.to_thread(self.postgres.stop, "fast")
            await asyncio.sleep(5)
            await asyncio.to_thread(self.postgres.start)
        elif fault.name == "network_lost":
            chosen = crowd.readers[::5][: max(1, len(crowd.readers) // 5)]
            for reader in chosen:
                reader.freeze()
            fault.detail = f"{len(chosen)} readers"
            await asyncio.sleep(self.args.network_loss)
            for reader in chosen:
                reader.thaw()
        elif fault.name == "reconnect_storm":
            dropped = sum(1 for r in crowd.readers if r.conn is not None)
            for reader in crowd.readers:
                reader.drop()
            fault.detail = f"{dropped} sockets cut at once"

    async def watch_recovery(self, fault: Fault, crowd: Crowd) -> None:
        """The moment every reader is live again, with every change up to the head."""
        readers = crowd.readers
        while True:
            if all(r.live and not r.frozen and r.cursor >= fault.head_at_restore for r in readers):
                fault.recovered = now()
                return
            await asyncio.sleep(0.1)

    async def sample(self, crowd: Crowd, blogger: Blogger, t0: float) -> None:
        while True:
            self.timeline.append(
                {
                    "t": round(now() - t0, 2),
                    "live": crowd.live_count(),
                    "at_head": crowd.at_least(blogger.head),
                    "head": blogger.head,
                }
            )
            await asyncio.sleep(1.0)

    async def run(self) -> dict:
        args = self.args
        crowd = Crowd(args.readers, self.proxy_port, self.session_id)
        _, first = await read_stream(self.proxy_port, self.session_id)
        t0 = now()
        say(f"{args.readers} readers connecting through the proxy on {self.proxy_port}")
        await crowd.open(first, rate=args.connect_rate)
        blogger = Blogger(self.proxy_port, self.session_id, self.token, args.interval)
        blogger.t0 = t0
        tasks = [
            asyncio.create_task(blogger.run()),
            asyncio.create_task(self.sample(crowd, blogger, t0)),
        ]
        try:
            warmup = args.warmup
            slot = max(0.0, (args.duration - warmup) / len(self.faults))
            await asyncio.sleep(max(0.0, warmup - (now() - t0)))
            say(f"{crowd.live_count()} readers live; faults every {slot:.0f} s")
            for fault in self.faults:
                slot_started = now()
                fault.started = now()
                say(f"fault: {fault.title}")
                await self.inject(fault, crowd)
                fault.restored = now()
                fault.head_at_restore = blogger.head
                watcher = asyncio.create_task(self.watch_recovery(fault, crowd))
                say(
                    f"  over after {fault.restored - fault.started:.1f} s ({fault.detail}); "
                    f"{crowd.live_count()} live"
                )
                await asyncio.sleep(max(10.0, slot - (now() - slot_started)))
                watcher.cancel()
            blogger.stopping = True
            await tasks[0]
            final = blogger.head
            say(f"blogger done at seq {final}; waiting for every reader to reach it")
            deadline = now() + SETTLE_TIMEOUT
            while now() < deadline and crowd.everyone_at(final) is None:
                await asyncio.sleep(0.5)
            await asyncio.sleep(GAP_WAIT + 1)  # anything late or doubled shows by then
            entries, last_seq = await read_stream(self.proxy_port, self.session_id)
        finally:
            for task in tasks:
                task.cancel()
            crowd.stop()
        return self.results(crowd, blogger, entries, last_seq, first, t0)

    def results(self, crowd, blogger, entries, last_seq, first, t0) -> dict:
        shown = sorted((e for e in entries if not e["deleted"]), key=lambda e: e["created_seq"])
        expected_order = [e["id"] for e in shown]
        expected_seqs = {e["id"]: e["seq"] for e in shown}
        exact = 0
        failures: list[dict] = []
        for reader in crowd.readers:
            problems = []
            if reader.doubled:
                problems.append(f"shown twice: {reader.doubled[:5]}")
            if reader.order != expected_order:
                missing = set(expected_order) - set(reader.order)
                extra = set(reader.order) - set(expected_order)
                problems.append(
                    f"{len(missing)} missing {sorted(missing)[:5]}, {len(extra)} extra, "
                    f"order {'differs' if not missing and not extra else 'n/a'}"
                )
            elif reader.entries != expected_seqs:
                problems.append("an entry in an older state")
            if reader.cursor != last_seq:
                problems.append(f"cursor {reader.cursor}, head {last_seq}")
            if problems:
                failures.append({"reader": reader.number, "problems": problems})
            else:
                exact += 1

        # Posts: each one exactly once in the database (the API), whatever its retries saw.
        bodies = Counter(e["body"].split(":")[0] for e in entries if not e["deleted"])
        lost = [
            p.number for p in blogger.posts if p.outcome and bodies[f"Soak post {p.number}"] == 0
        ]
        doubled = [p.number for p in blogger.posts if bodies[f"Soak post {p.number}"] > 1]
        gave_up = [p.number for p in blogger.posts if p.outcome == "gave up"]
        lost = [n for n in lost if n not in gave_up]
        errors: Counter = Counter()
        endings: dict[str, Counter] = {}
        for post in blogger.posts:
            failed = [a["result"] for a in post.attempts if a["result"] not in ("200", "201")]
            for result in set(failed):
                errors[result] += failed.count(result)
                endings.setdefault(result, Counter())[post.outcome] += 1
        server_errors = sum(n for r, n in errors.items() if r == "500")

        faults = []
        for fault in self.faults:
            next_post = next(
                (p for p in blogger.posts if p.answered and p.answered >= fault.started), None
            )
            reached = crowd.everyone_at(next_post.seq) if next_post else None
            caught_up = fault.recovered
            in_fault = [
                a["result"]
                for p in blogger.posts
                for a in p.attempts
                if fault.started <= a["at"] <= fault.restored + 15
                and a["result"] not in ("200", "201")
            ]
            faults.append(
                {
                    "name": fault.name,
                    "title": fault.title,
                    "detail": fault.detail,
                    "at_s": round(fault.started - t0, 1),
                    "lasted_s": round(fault.restored - fault.started, 1),
                    "next_entry_seq": next_post.seq if next_post else None,
                    "next_entry_everywhere_s": round(reached - fault.started, 2)
                    if reached is not None
                    else None,
                    "head_at_restore": fault.head_at_restore,
                    "everyone_caught_up_s": round(caught_up - fault.started, 2)
                    if caught_up is not None
                    else None,
                    "blogger_errors": dict(Counter(in_fault)),
                }
            )
        latencies = sorted(p.answered - p.started for p in blogger.posts if p.answered is not None)
        closes: Counter = Counter()
        for reader in crowd.readers:
            closes.update({str(k): v for k, v in reader.closes.items()})
        return {
            "readers": len(crowd.readers),
            "exact_readers": exact,
            "not_exact": failures[:20],
            "not_exact_count": len(failures),
            "entries_at_end": len(expected_order),
            "first_seq": first,
            "last_seq": last_seq,
            "posts": {
                "sent": len(blogger.posts),
                "created": sum(1 for p in blogger.posts if p.outcome == "created"),
                "replayed": sum(1 for p in blogger.posts if p.outcome == "replayed"),
                "gave_up": gave_up,
                "lost": lost,
                "doubled": doubled,
                "retried": sum(1 for p in blogger.posts if len(p.attempts) > 1),
                "answer_p50_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
                "answer_max_s": round(latencies[-1], 2) if latencies else None,
            },
            "blogger_errors": [
                {"error": e, "count": n, "posts": dict(endings[e])} for e, n in errors.most_common()
            ],
            "server_errors": server_errors,
            "faults": faults,
            "reconnects": sum(r.connects for r in crowd.readers) - len(crowd.readers),
            "reloads": sum(r.reloads for r in crowd.readers),
            "gaps_noticed": crowd.gaps,
            "heads_told": crowd.heads_told,
            "busy_told": crowd.busy,
            "placed_between": crowd.placed_between,
            "closes": dict(closes.most_common()),
            "fatal": crowd.fatal[:20],
            "timeline": self.timeline,
            "post_timeline": [
                {
                    "t": round(p.started - t0, 2),
                    "answer_s": round(p.answered - p.started, 3) if p.answered else None,
                    "attempts": len(p.attempts),
                    "outcome": p.outcome,
                    # From the answered attempt's start until the first reader, and every
                    # reader, had it (as make bench times a fan-out).
                    "first_reader_s": delay(crowd.first_arrival.get(p.seq), p.sent),
                    "every_reader_s": delay(crowd.everyone_at(p.seq or 0), p.sent),
                }
                for p in blogger.posts
            ],
            "fault_windows": [
                {"name": f.name, "from": round(f.started - t0, 1), "to": round(f.restored - t0, 1)}
                for f in self.faults
            ],
        }


def delay(at: float | None, since: float | None) -> float | None:
    return round(at - since, 3) if at is not None and since is not None else None


# ---- Setting up and tearing down -------------------------------------------------------------


def worker_env(postgres: Postgres, redis: Redis, workdir: Path) -> dict[str, str]:
    env = production_env(postgres.url(), redis.url, workdir / "static")
    env.update(
        LOG_LEVEL="WARNING",
        SECURE_SSL_REDIRECT="0",  # the proxy here speaks plain HTTP on loopback
        PYTHONPATH=str(ROOT),
        REDIS_PREFIX="liveblog-soak",
    )
    return env


def prepare(env: dict[str, str]) -> dict:
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    result = subprocess.run(
        [sys.executable, "-m", "bench.fixtures", "soak"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench.fixtures failed:\n{result.stderr}")
    fixtures = json.loads(result.stdout)
    return {"token": fixtures["token"], "session": fixtures["sessions"]["soak"]}


LOG_LINE = re.compile(r"^\S+ \S+ (ERROR|WARNING|CRITICAL) ([\w.]+): (.*)$")


def worker_log_summary(log_dir: Path) -> list[dict]:
    """What the workers logged at WARNING and above, by logger and message, counted."""
    counts: Counter = Counter()
    for path in sorted(log_dir.glob("worker-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            match = LOG_LINE.match(line)
            if match:
                level, logger, message = match.groups()
                message = re.sub(r"\d+", "N", message)[:120]
                counts[(level, logger, message)] += 1
    return [
        {"level": level, "logger": logger, "message": message, "count": count}
        for (level, logger, message), count in counts.most_common(25)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Soak test with faults (make soak).")
    parser.add_argument("--short", action="store_true", help="a quick look: about 2 minutes")
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--duration", type=float, help="seconds of faults (default 600; 75 short)")
    parser.add_argument("--interval", type=float, default=POST_INTERVAL, help="seconds per post")
    parser.add_argument("--connect-rate", type=float, default=500, help="new readers a second")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    args.duration = args.duration or (75.0 if args.short else 600.0)
    args.warmup = 10.0 if args.short else 30.0
    args.network_loss = NETWORK_LOSS_SECONDS
    raise_fd_limit(args.readers * 3 + 1024)
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-soak-"))
    redis = Redis(workdir)
    postgres = Postgres(workdir)
    topology = None
    started = time.monotonic()
    try:
        say(f"work directory {workdir}")
        postgres.init()
        redis.start()
        say(f"PostgreSQL on {postgres.port}, Redis on {redis.port}")
        env = worker_env(postgres, redis, workdir)
        ids = prepare(env)
        topology = Topology(env, workdir, ids["session"])
        topology.start_worker("worker-a")
        topology.start_worker("worker-b")
        if topology.start_proxy() is None:
            raise SystemExit("make soak needs Caddy (Debian package caddy)")
        say(f"workers on {[p for _, p in topology.workers.values()]}, Caddy on {topology.proxy[1]}")
        soak = Soak(args, topology, redis, postgres, ids)
        results = run(soak.run())
        results["worker_log"] = worker_log_summary(workdir)
    finally:
        if topology is not None:
            topology.stop()
        redis.stop()
        with contextlib.suppress(Exception):
            postgres.stop("immediate")
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started),
        "mode": "short" if args.short else "default",
        "machine": machine(),
        "method": {
            "readers": args.readers,
            "fault_duration_s": args.duration,
            "post_interval_s": args.interval,
            "network_loss_s": args.network_loss,
            "postgres": postgres.bin.parent.name,
        },
        **results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    say(f"wrote {args.output}")
    if args.output == DEFAULT_OUTPUT:
        from bench import soak_report

        soak_report.main([str(args.output)])
    posts = results["posts"]
    failed = (
        results["exact_readers"] != results["readers"]
        or posts["lost"]
        or posts["doubled"]
        or results["server_errors"]
        or results["fatal"]
    )
    say(
        f"{results['exact_readers']}/{results['readers']} readers exact; posts lost "
        f"{len(posts['lost'])}, doubled {len(posts['doubled'])}, gave up "
        f"{len(posts['gave_up'])}; 500s {results['server_errors']}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
