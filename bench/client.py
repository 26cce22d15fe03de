"""The load client: N websocket readers in one uvloop process, and the blogger's POSTs.

Run by bench/run.py on its own core. It opens the readers in batches, measures the
server's memory and handshake rate, then posts entries one at a time through the real HTTP
endpoint and records, for every reader, the time from the start of the POST to the arrival
of the entry. The websocket side is a minimal RFC 6455 client on asyncio protocols (one
object per connection, no task per connection) so that the client is not what is measured.
Prints one JSON object on stdout; progress lines go to stderr.

    python -m bench.client --ports 8001 --session 1 --readers 1000 --entries 20 ...
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import statistics
import sys
import time
from collections import defaultdict

import psutil
import uvloop

SEQ = re.compile(rb'"seq":(\d+)')
ENTRY_PREFIX = b'{"type":"entry"'
CAUGHT_UP_PREFIX = b'{"type":"caught_up"'
PONG_EMPTY = b"\x8a\x80\x00\x00\x00\x00"  # a masked (zero key) pong with no payload


def progress(phase: str, done: int, total: int) -> None:
    print(f"PROGRESS {phase} {done} {total}", file=sys.stderr, flush=True)


class Reader(asyncio.Protocol):
    """One websocket reader: handshake, then frames parsed just enough to time them."""

    __slots__ = ("bench", "buffer", "close_code", "handshaking", "ready", "request", "transport")

    def __init__(self, bench: Bench, request: bytes) -> None:
        self.bench = bench
        self.request = request
        self.buffer = b""
        self.handshaking = True
        self.ready: asyncio.Future[float] = bench.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.bench.lost += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed during handshake ({exc})"))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.handshaking:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                status = self.buffer.split(b"\r\n", 1)[0].decode(errors="replace")
                self.ready.set_exception(ConnectionError(f"handshake refused: {status}"))
                self.transport.close()
                return
            self.handshaking = False
            data = self.buffer[end + 4 :]
            self.buffer = b""
            if not self.bench.wait_caught_up:
                self.ready.set_result(now)
            if not data:
                return
        buffer = self.buffer + data if self.buffer else data
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            opcode = buffer[pos] & 0x0F
            length = buffer[pos + 1] & 0x7F
            header = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                header = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                header = 10
            if size - pos < header + length:
                break
            payload = buffer[pos + header : pos + header + length]
            pos += header + length
            if opcode == 1:
                self.bench.on_text(self, payload, now)
            elif opcode == 9:  # ping: answer with a masked pong carrying the same payload
                self.transport.write(_masked(0x8A, payload))
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        self.buffer = buffer[pos:]


def _masked(first_byte: int, payload: bytes) -> bytes:
    # Client frames must be masked; a zero key leaves the payload as it is.
    if not payload:
        return PONG_EMPTY if first_byte == 0x8A else bytes([first_byte, 0x80, 0, 0, 0, 0])
    return bytes([first_byte, 0x80 | len(payload), 0, 0, 0, 0]) + payload


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.loop = asyncio.get_running_loop()
        self.wait_caught_up = args.ready == "caught_up"
        self.lost = 0
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self.stray = 0
        self.received = 0
        self.frame_bytes = 0
        self.waiter: asyncio.Future[None] | None = None
        self.expected = 0
        self.catch_up_messages = 0

    def request(self, path: str, port: int) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\n\r\n"
        ).encode()

    def on_text(self, reader: Reader, payload: bytes, now: float) -> None:
        if not reader.ready.done():
            if payload.startswith(CAUGHT_UP_PREFIX):
                reader.ready.set_result(now)
            else:
                self.catch_up_messages += 1
            return
        if not payload.startswith(ENTRY_PREFIX):
            return
        match = SEQ.search(payload)
        if match is None:
            self.stray += 1
            return
        self.arrivals[int(match.group(1))].append(now)
        self.received += 1
        self.frame_bytes = len(payload)
        if self.waiter is not None and self.received >= self.expected and not self.waiter.done():
            self.waiter.set_result(None)

    async def open(self, port: int, path: str) -> tuple[Reader, float]:
        request = self.request(path, port)
        started = time.perf_counter()
        _, reader = await self.loop.create_connection(
            lambda: Reader(self, request), "127.0.0.1", port
        )
        ready_at = await asyncio.wait_for(reader.ready, timeout=30)
        return reader, ready_at - started

    async def open_many(self, count: int, path: str) -> tuple[list[Reader], float, list[float]]:
        """Open `count` readers, round-robin over the ports, `batch` at a time in flight."""
        ports = self.args.ports
        readers: list[Reader] = []
        durations: list[float] = []
        semaphore = asyncio.Semaphore(self.args.batch)
        failures: list[str] = []

        async def one(i: int) -> None:
            async with semaphore:
                try:
                    reader, took = await self.open(ports[i % len(ports)], path)
                except (TimeoutError, OSError) as error:
                    failures.append(repr(error))
                    return
                readers.append(reader)
                durations.append(took)
                if len(readers) % max(1, count // 20) == 0:
                    progress("connect", len(readers), count)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = time.perf_counter() - started
        if failures:
            print(f"{len(failures)} connections failed, e.g. {failures[0]}", file=sys.stderr)
        return readers, elapsed, durations

    async def post(self, body: str) -> tuple[float, int]:
        """POST one entry through the real endpoint; returns (start time, its seq)."""
        args = self.args
        payload = json.dumps({"kind": "text", "body": body}).encode()
        head = (
            f"POST {args.post_path} HTTP/1.1\r\nHost: 127.0.0.1:{args.post_port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: close\r\n"
        )
        if args.token:
            head += f"Authorization: Bearer {args.token}\r\n"
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", args.post_port)
        writer.write(head.encode() + b"\r\n" + payload)
        response = await reader.read()
        writer.close()
        status = response.split(b" ", 2)[1]
        if status not in (b"200", b"201"):
            raise RuntimeError(f"POST failed: {response[:500]!r}")
        body_start = response.find(b"\r\n\r\n") + 4
        seq = json.loads(response[body_start:])["seq"]
        return started, seq

    async def readers_now(self) -> int | None:
        """The session's readers_now from GET /api/sessions/{id}, on each server (the sum,
        across workers, is the same on each: the first answer is taken)."""
        args = self.args
        if not args.post_path.endswith("/entries"):
            return None  # the raw floor has no API
        path = args.post_path.removesuffix("/entries")
        reader, writer = await asyncio.open_connection("127.0.0.1", args.ports[-1])
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{args.ports[-1]}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        response = await reader.read()
        writer.close()
        if response.split(b" ", 2)[1] != b"200":
            return None
        return json.loads(response[response.find(b"\r\n\r\n") + 4 :]).get("readers_now")

    async def wait_counted(self, expected: int, timeout: float = 15.0) -> tuple[int | None, float]:
        """Poll readers_now until it counts every reader; (the count, seconds it took)."""
        started = time.perf_counter()
        count = await self.readers_now()
        while count is not None and count != expected and time.perf_counter() - started < timeout:
            await asyncio.sleep(0.25)
            count = await self.readers_now()
        return count, round(time.perf_counter() - started, 2)


def summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def server_processes(pids: list[int]) -> list[psutil.Process]:
    return [psutil.Process(pid) for pid in pids]


def rss(processes: list[psutil.Process]) -> int:
    return sum(process.memory_info().rss for process in processes)


def cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


async def fanout(args: argparse.Namespace) -> dict:
    bench = Bench(args)
    servers = server_processes(args.pids)
    body = ("Scott Gould opens Like Minds with a question about trust. " * 20)[: args.body_bytes]

    # Warm the server (templates, database connection) before measuring anything.
    for _ in range(2):
        _, last_seq = await bench.post(body)
    await asyncio.sleep(0.5)
    rss_before = rss(servers)
    cpu_connect = cpu(servers)
    # Readers arrive as from a freshly loaded page: with the page's last_seq as their cursor.
    path = f"{args.ws_path}?after={last_seq}"
    readers, elapsed, durations = await bench.open_many(args.readers, path)
    cpu_connect = cpu(servers) - cpu_connect
    await asyncio.sleep(1.0)
    rss_after = rss(servers)
    connected = len(readers)
    # The audience figure (realtime/audience.py) must count every reader, on every worker.
    readers_now, counted_after_s = await bench.wait_counted(connected)

    # Two unmeasured entries, then the measured ones, one at a time.
    latencies: list[float] = []
    per_entry: list[dict] = []
    cpu_before = None
    total = args.entries + 2
    for i in range(total):
        if i == 2:
            cpu_before = cpu(servers)
            bench.received = 0
            bench.arrivals.clear()
        base = bench.received
        bench.expected = base + connected
        bench.waiter = bench.loop.create_future()
        started, seq = await bench.post(body)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(bench.waiter, timeout=args.entry_timeout)
        if i >= 2:
            times = bench.arrivals.get(seq, [])
            latencies.extend(t - started for t in times)
            per_entry.append(
                {"seq": seq, "delivered": len(times), **summary([t - started for t in times])}
            )
            progress("entries", i - 1, args.entries)
        await asyncio.sleep(args.pause)
    cpu_after = cpu(servers)
    delivered = sum(entry["delivered"] for entry in per_entry)
    entry_p99 = [entry["p99_ms"] for entry in per_entry if entry["p99_ms"] is not None]
    for reader in readers:
        reader.transport.close()
    return {
        "readers": args.readers,
        "connected": connected,
        "entries": args.entries,
        "expected": args.entries * args.readers,
        "delivered": delivered,
        "lost_connections": bench.lost,
        **summary(latencies),
        # Robust to a single entry hit by a neighbour's load: the median entry's p99.
        "entry_p99_median_ms": round(statistics.median(entry_p99), 2) if entry_p99 else None,
        "cpu_us_per_delivered": round((cpu_after - cpu_before) * 1e6 / delivered, 2)
        if delivered
        else None,
        "rss_before_mib": round(rss_before / 2**20, 1),
        "rss_after_mib": round(rss_after / 2**20, 1),
        "kib_per_reader": round((rss_after - rss_before) / 1024 / max(1, connected), 2),
        "handshakes_per_s": round(connected / elapsed, 1) if elapsed else None,
        "cpu_us_per_handshake": round(cpu_connect * 1e6 / max(1, connected), 1),
        "handshake_p50_ms": round(statistics.median(durations) * 1000, 2) if durations else None,
        "frame_bytes": bench.frame_bytes,
        "readers_now": readers_now,
        "readers_counted_after_s": counted_after_s,
        "per_entry": per_entry,
    }


async def catch_up(args: argparse.Namespace) -> dict:
    """Time a reader's catch-up of `after` changes through the websocket, and through the API."""
    bench = Bench(args)
    websocket_ms = []
    counts = []
    for _ in range(args.repeat):
        bench.catch_up_messages = 0
        _, took = await bench.open(args.ports[0], args.ws_path)
        websocket_ms.append(took * 1000)
        counts.append(bench.catch_up_messages)
    api_ms = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", args.ports[0])
        writer.write(
            f"GET {args.api_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        response = await reader.read()
        writer.close()
        api_ms.append((time.perf_counter() - started) * 1000)
        if b" 200 " not in response.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"API catch-up failed: {response[:300]!r}")
        api_count = len(json.loads(response[response.find(b"\r\n\r\n") + 4 :])["entries"])
    return {
        "websocket_p50_ms": round(statistics.median(websocket_ms), 2),
        "websocket_messages": counts[-1],
        "api_p50_ms": round(statistics.median(api_ms), 2),
        "api_entries": api_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["fanout", "catchup"])
    parser.add_argument("--ports", type=int, nargs="+", required=True)
    parser.add_argument("--post-port", type=int, help="where to POST (default: the first port)")
    parser.add_argument("--pids", type=int, nargs="*", default=[])
    parser.add_argument("--ws-path", required=True)
    parser.add_argument("--post-path", default="")
    parser.add_argument("--api-path", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--ready", choices=["open", "caught_up"], default="caught_up")
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100, help="handshakes in flight at once")
    parser.add_argument("--body-bytes", type=int, default=600)
    parser.add_argument("--pause", type=float, default=0.1)
    parser.add_argument("--entry-timeout", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    args.post_port = args.post_port or args.ports[0]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    runner = fanout if args.mode == "fanout" else catch_up
    result = uvloop.run(runner(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
