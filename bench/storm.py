"""A reconnect storm: 5,000 readers behind one address drop and reconnect to one worker at once.

    python -m bench.storm                   # writes bench/results/storm.json (make bench runs it)
    python -m bench.storm --readers 1000    # a quicker look

The server is what ships: `python -m liveblog.server` (as `make run`, the Docker image and
the tests start it), one worker, SQLite, the default websocket admission
(WEBSOCKET_MAX_PER_ADDRESS, WEBSOCKET_CONNECT_RATE, WEBSOCKET_CONNECT_BURST), pinned to
core 0. Every reader comes from 127.0.0.1, as a venue's crowd comes through its Wi-Fi's one
address. The readers are spread over several client processes (uvloop, the minimal
websocket client of bench/client.py), all pinned to core 1.

The readers connect and catch up; then, for each reconnect policy, every client aborts all
of its sockets at once (the worker sees them all go), the blogger posts three entries
through the API (the readers missed them), and every reader reconnects with its cursor
(`?after=SEQ`). Measured from the moment they start reconnecting: when each reader has
its `caught_up` (p50, p95, max: the last one is the storm's length), the rate of accepted
handshakes, and how many attempts the server turned away (`busy`, close 4429) or failed.

The policies:
- *at once*: every reader reconnects at the same instant; one turned away retries when the
  server's `busy` message says (1 s after a failed connection), with no jitter;
- *page*: what static/js/live.js does: the first reconnect after 250 ms + up to 500 ms
  (full jitter), then exponential backoff with full jitter capped at 30 s, and never sooner
  than a `busy` message asked.

bench/report.py turns the JSON into the storm section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bench" / "results" / "storm.json"
PORT = 18790
CLIENTS = 4
MISSED = 3  # entries posted while the readers are away
TARGET_S = 10.0
BUSY_PREFIX = b'{"type":"busy"'
POLICIES = ["at-once", "page"]


# ---- the client processes -------------------------------------------------------------


def page_delay(attempt: int, busy_until: float, rng: random.Random) -> float:
    """static/js/live.js scheduleReconnect(), in seconds."""
    ceiling = min(30.0, 0.5 * 2**attempt)
    floor = max(0.0, busy_until - time.monotonic())
    return floor + rng.random() * max(ceiling, floor / 2) + 0.25


def at_once_delay(busy_until: float) -> float:
    return max(0.0, busy_until - time.monotonic()) if busy_until else 1.0


async def client(args: argparse.Namespace) -> None:
    from bench.client import Reader

    loop = asyncio.get_running_loop()
    rng = random.Random(os.getpid())

    class Crowd:
        """What bench.client.Reader expects of its bench, and the attempts' outcomes."""

        def __init__(self) -> None:
            self.loop = loop
            self.wait_caught_up = True
            self.lost = 0
            self.busy: dict[int, int] = {}  # id(reader): retry_after
            self.handshakes: list[float] = []

        def on_text(self, reader, payload: bytes, now: float) -> None:
            if reader.ready.done():
                return
            if payload.startswith(b'{"type":"caught_up"'):
                reader.ready.set_result(now)
            elif payload.startswith(BUSY_PREFIX):
                self.busy[id(reader)] = int(json.loads(payload).get("retry_after") or 0)

    crowd = Crowd()

    class Timed(Reader):
        __slots__ = ()

        def data_received(self, data: bytes) -> None:
            was = self.handshaking
            super().data_received(data)
            if was and not self.handshaking:
                crowd.handshakes.append(time.monotonic())

    def request(after: int) -> bytes:
        import base64

        key = base64.b64encode(os.urandom(16)).decode()
        return (
            f"GET {args.path}?after={after} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{args.port}\r\n\r\n"
        ).encode()

    async def attempt(after: int):
        """One connection: the reader once caught up, else ("busy", seconds) or ("failed", why)."""
        transport = reader = None
        try:
            transport, reader = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Timed(crowd, request(after)), "127.0.0.1", args.port
                ),
                timeout=30,
            )
            await asyncio.wait_for(reader.ready, timeout=30)
            return reader, None
        except (OSError, ConnectionError, TimeoutError) as error:
            if transport is not None:
                transport.abort()
                retry_after = crowd.busy.pop(id(reader), None)
                if retry_after is not None:
                    return None, ("busy", retry_after)
            return None, ("failed", f"{type(error).__name__}: {error}"[:90])

    stats = {"attempts": 0, "busy": 0, "failed": 0, "failures": {}}
    readers: list = [None] * args.readers

    async def follow(i: int, after: int, policy: str, start: float, first_delay: float):
        """Reconnect reader i until it is caught up; its time from `start`, and its attempts."""
        busy_until = 0.0
        tries = 0
        delay = first_delay
        while True:
            if delay > 0:
                await asyncio.sleep(delay)
            tries += 1
            stats["attempts"] += 1
            reader, refusal = await attempt(after)
            if reader is not None:
                readers[i] = reader
                return time.monotonic() - start, tries
            kind, value = refusal
            if kind == "busy":
                stats["busy"] += 1
                busy_until = time.monotonic() + value
            else:
                stats["failed"] += 1
                stats["failures"][value] = stats["failures"].get(value, 0) + 1
            if policy == "page":
                delay = page_delay(tries, busy_until, rng)  # attempt was 1 after the first try
            else:
                delay = at_once_delay(busy_until)
                busy_until = 0.0

    def say(message: dict) -> None:
        print(json.dumps(message), flush=True)

    lines = asyncio.Queue()
    stdin_reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin_reader), sys.stdin)

    async def read_lines() -> None:
        while line := await stdin_reader.readline():
            await lines.put(json.loads(line))

    asyncio.ensure_future(read_lines())

    # The crowd arrives (50 handshakes in flight per process) and catches up.
    gate = asyncio.Semaphore(50)

    async def arrive(i: int) -> None:
        async with gate:
            await follow(i, args.after, "at-once", time.monotonic(), 0.0)

    await asyncio.gather(*(arrive(i) for i in range(args.readers)))
    say({"event": "connected", "readers": sum(r is not None for r in readers)})

    while True:
        command = await lines.get()
        if command["do"] == "quit":
            break
        if command["do"] == "drop":
            for reader in readers:
                if reader is not None and reader.transport is not None:
                    reader.transport.abort()
            readers[:] = [None] * args.readers
            say({"event": "dropped"})
            continue
        # "storm": everyone reconnects from `start` (a shared monotonic instant).
        policy, start, after = command["policy"], command["start"], command["after"]
        for key in ("attempts", "busy", "failed"):
            stats[key] = 0
        stats["failures"] = {}
        crowd.handshakes = []
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = usage.ru_utime + usage.ru_stime
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        first = [
            (0.25 + rng.random() * 0.5) if policy == "page" else 0.0 for _ in range(args.readers)
        ]
        outcomes = await asyncio.gather(
            *(follow(i, after, policy, start, first[i]) for i in range(args.readers))
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        say(
            {
                "event": "done",
                "caught_up_s": [round(t, 4) for t, _ in outcomes],
                "retried": sum(1 for _, tries in outcomes if tries > 1),
                "handshakes_s": [round(t - start, 4) for t in crowd.handshakes],
                "cpu_s": round(usage.ru_utime + usage.ru_stime - cpu_before, 2),
                **stats,
            }
        )


# ---- the orchestrator -----------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def post(port: int, session: int, token: str, body: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/sessions/{session}/entries",
        data=json.dumps({"kind": "text", "body": body}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["seq"]


def summarise(policy: str, results: list[dict], server_cpu: float, loads: list) -> dict:
    caught = [t for r in results for t in r["caught_up_s"]]
    handshakes = sorted(t for r in results for t in r["handshakes_s"])
    span = handshakes[-1] if handshakes else 0  # from the moment they start reconnecting
    total = max(caught)
    failures: dict[str, int] = {}
    for r in results:
        for key, count in r["failures"].items():
            failures[key] = failures.get(key, 0) + count
    return {
        "policy": policy,
        "readers": len(caught),
        "caught_up_p50_s": round(statistics.median(caught), 2),
        "caught_up_p95_s": round(percentile(caught, 0.95), 2),
        "caught_up_max_s": round(total, 2),
        "within_target": total <= TARGET_S,
        "handshakes": len(handshakes),
        "handshakes_per_s": round(len(handshakes) / span, 1) if span else None,
        "first_handshake_s": round(handshakes[0], 3) if handshakes else None,
        "last_handshake_s": round(handshakes[-1], 3) if handshakes else None,
        "attempts": sum(r["attempts"] for r in results),
        "busy": sum(r["busy"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "failures": failures,
        "retried_readers": sum(r["retried"] for r in results),
        "server_cpu_s": round(server_cpu, 2),
        "clients_cpu_s": round(sum(r["cpu_s"] for r in results), 2),
        "load_average": loads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Reconnect storm (part of make bench).")
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=CLIENTS, help="client processes")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server, e.g. WEBSOCKET_CONNECT_BURST=5000 (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and log")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--after", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.client:
        import uvloop

        uvloop.run(client(args))
        return
    if hard < args.readers + 1024:
        raise SystemExit(f"the file-descriptor limit is {hard}; raise it (ulimit -n)")

    import psutil

    from bench.run import django, machine, pinned, server_env, wait_for_port

    at_start = machine()
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-bench-storm-"))
    log = workdir / "server.log"
    env = server_env(workdir, "memory", {"sqlite": f"sqlite:///{workdir / 'storm.sqlite3'}"})
    for key in ("WEBSOCKET_MAX_PER_ADDRESS", "WEBSOCKET_CONNECT_RATE", "WEBSOCKET_CONNECT_BURST"):
        env.pop(key)  # the shipped admission: what a venue's crowd behind one address meets
    env.update(item.split("=", 1) for item in args.server_env)
    print(f"Preparing {workdir} ...", file=sys.stderr)
    django(["manage.py", "collectstatic", "--noinput", "-v", "0"], env)
    django(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    fixtures = json.loads(django(["-m", "bench.fixtures", "storm"], env))
    session, token = fixtures["sessions"]["storm"], fixtures["token"]
    body = ("Scott Gould opens Like Minds with a question about trust. " * 20)[:600]

    server = subprocess.Popen(
        [*pinned(0), sys.executable, "-m", "liveblog.server", "-b", "127.0.0.1", "-p", str(PORT)],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    clients: list[subprocess.Popen] = []
    runs = []
    try:
        wait_for_port(PORT, server)
        for _ in range(20):  # a recent stream, and a warm worker
            head = post(PORT, session, token, body)
        shares = [args.readers // args.clients] * args.clients
        shares[0] += args.readers - sum(shares)
        for share in shares:
            clients.append(
                subprocess.Popen(
                    [
                        *pinned(1),
                        sys.executable,
                        "-m",
                        "bench.storm",
                        "--client",
                        "--port",
                        str(PORT),
                        "--path",
                        f"/ws/sessions/{session}/",
                        "--readers",
                        str(share),
                        "--after",
                        str(head),
                    ],  # fmt: skip
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )

        def tell(message: dict) -> None:
            for c in clients:
                c.stdin.write(json.dumps(message) + "\n")
                c.stdin.flush()

        def hear(event: str) -> list[dict]:
            heard = []
            for c in clients:
                line = c.stdout.readline()
                if not line:
                    raise RuntimeError(f"a client exited with {c.wait()}")
                message = json.loads(line)
                if message["event"] != event:
                    raise RuntimeError(f"expected {event}, heard {message}")
                heard.append(message)
            return heard

        connected = sum(m["readers"] for m in hear("connected"))
        print(f"{connected} readers connected and caught up", file=sys.stderr)
        process = psutil.Process(server.pid)
        for policy in POLICIES:
            time.sleep(3)  # the admission bucket refills; the worker settles
            tell({"do": "drop"})
            hear("dropped")
            for _ in range(MISSED):
                last = post(PORT, session, token, body)
            before = process.cpu_times()
            start = time.monotonic() + 0.3
            tell({"do": "storm", "policy": policy, "start": start, "after": head})
            results = hear("done")
            after = process.cpu_times()
            cpu = after.user + after.system - before.user - before.system
            run = summarise(policy, results, cpu, [round(x, 2) for x in os.getloadavg()])
            run["missed_entries"] = last - head
            runs.append(run)
            head = last
            print(
                f"{policy:>8}: caught up p50 {run['caught_up_p50_s']} s, p95 "
                f"{run['caught_up_p95_s']} s, all in {run['caught_up_max_s']} s; "
                f"{run['handshakes_per_s']} handshakes/s; {run['busy']} busy, "
                f"{run['failed']} failed, {run['retried_readers']} readers retried; server CPU "
                f"{run['server_cpu_s']} s, clients {run['clients_cpu_s']} s; load {run['load_average']}",
                file=sys.stderr,
            )
        tell({"do": "quit"})
    finally:
        for c in clients:
            try:
                c.wait(timeout=10)
            except subprocess.TimeoutExpired:
                c.kill()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": at_start,
        "readers": args.readers,
        "client_processes": args.clients,
        "admission": {
            key: env.get(key, "default")
            for key in (
                "WEBSOCKET_MAX_PER_ADDRESS",
                "WEBSOCKET_CONNECT_RATE",
                "WEBSOCKET_CONNECT_BURST",
            )
        },
        "target_s": TARGET_S,
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {args.output}", file=sys.stderr)
    if args.keep:
        print(f"Kept {workdir} (server.log has the server's output)", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
