"""`make bench`: fan-out to N readers against the raw floor and the plain Channels baseline.

For each target and each N it starts the server(s) on loopback pinned to core 0, runs the
load client (bench/client.py) pinned to core 1, and collects latency, delivery, CPU,
memory and handshake figures; then it measures the session page and catch-up
(bench/pages.py). Results go to bench/results/fanout.json, and bench/report.py turns them
into docs/benchmarks.md and bench/results/fanout.png.

    python -m bench.run                      # everything (about 10 minutes on 2 cores)
    python -m bench.run --quick              # 100 and 1,000 readers, fewer entries
    python -m bench.run --only raw hub-uvicorn --readers 1000

The Redis targets need PostgreSQL and Redis (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/liveblog_bench; BENCH_REDIS_URL, default
redis://127.0.0.1:6379/15); without them they are skipped with a message.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_OUTPUT = RESULTS / "fanout.json"
READERS = [100, 1000, 5000, 10000]


def entries_for(readers: int) -> int:
    """Enough entries that one slowed by a neighbour's load is not the whole p99."""
    return 30 if readers <= 1000 else 15 if readers <= 5000 else 10


BASE_PORT = 18700


@dataclass
class Target:
    name: str
    label: str
    server: str  # raw, uvicorn or daphne
    app: str = "liveblog.asgi:application"
    workers: int = 1
    # CHANNEL_LAYER for the servers: memory (with SQLite), or redis-pubsub or redis (with
    # PostgreSQL), as liveblog/settings.py reads it.
    layer: str = "memory"
    max_readers: int = 10000
    max_entries: int = 30

    @property
    def database(self) -> str:
        return "sqlite" if self.layer == "memory" else "postgres"


PUBSUB = "Redis pub/sub layer (the default with REDIS_URL) + PostgreSQL"
LIST = "Redis list layer (CHANNEL_LAYER=redis) + PostgreSQL"
PLAIN = "plain Channels (group_send per reader), daphne"
TARGETS = [
    Target("raw", "raw websockets broadcast (the floor)", "raw"),
    Target("hub-uvicorn", "liveblog hub, uvicorn, in-memory layer", "uvicorn"),
    Target("hub-daphne", "liveblog hub, daphne, in-memory layer", "daphne"),
    Target(
        "hub-uvicorn-pubsub-2w",
        f"liveblog hub, 2 uvicorn workers, {PUBSUB}",
        "uvicorn",
        workers=2,
        layer="redis-pubsub",
    ),
    Target(
        "hub-uvicorn-redis-2w",
        f"liveblog hub, 2 uvicorn workers, {LIST}",
        "uvicorn",
        workers=2,
        layer="redis",
        max_readers=5000,
    ),
    Target(
        "hub-daphne-pubsub-2w",
        f"liveblog hub, 2 daphne workers, {PUBSUB}",
        "daphne",
        workers=2,
        layer="redis-pubsub",
    ),
    Target(
        "channels-daphne",
        f"{PLAIN}, in-memory layer",
        "daphne",
        app="bench.baseline_asgi:application",
        max_readers=1000,
        max_entries=10,  # about a second each; 10 x 1,000 samples settle its p99
    ),
    Target(
        "channels-daphne-pubsub",
        f"{PLAIN}, {PUBSUB}",
        "daphne",
        app="bench.baseline_asgi:application",
        layer="redis-pubsub",
        max_readers=1000,
        max_entries=10,
    ),
    Target(
        "channels-daphne-redis",
        f"{PLAIN}, {LIST}",
        "daphne",
        app="bench.baseline_asgi:application",
        layer="redis",
        max_readers=1000,
        max_entries=10,
    ),
]


class Progress:
    """One bar for the whole run, fed by the client's progress lines."""

    def __init__(self, total: int) -> None:
        self.bar = tqdm(total=total, unit="run", dynamic_ncols=True, file=sys.stderr)

    def status(self, text: str) -> None:
        self.bar.set_postfix_str(text[:70], refresh=True)

    def advance(self) -> None:
        self.bar.update(1)

    def write(self, text: str) -> None:
        self.bar.write(text)


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < wanted:
        raise SystemExit(f"the file-descriptor limit is {hard}; {wanted} are needed (ulimit -n)")


def pinned(core: int) -> list[str]:
    """taskset for one core, when there are two to split server and load between."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core)]
    return []


def server_env(workdir: Path, layer: str, databases: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "CHANNEL_LAYER"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="liveblog.settings",
        DEBUG="0",
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        SECURE_COOKIES="0",
        LOG_LEVEL="WARNING",
        # The bench posts faster than any blogger: lift the per-blogger and per-token limits.
        RATE_LIMIT_POSTS="1000000",
        RATE_LIMIT_API="1000000",
        # Every reader comes from 127.0.0.1: turn off the per-address websocket admission.
        WEBSOCKET_MAX_PER_ADDRESS="0",
        WEBSOCKET_CONNECT_RATE="0",
        WEBSOCKET_CONNECT_BURST="0",
        STATIC_ROOT=str(workdir / "static"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    env["CHANNEL_LAYER"] = layer
    if layer == "memory":
        env["DATABASE_URL"] = databases["sqlite"]
    else:
        env["DATABASE_URL"] = databases["postgres"]
        env["REDIS_URL"] = databases["redis"]
        env["REDIS_PREFIX"] = f"liveblog-bench-{os.getpid()}"
    return env


def server_command(target: Target, port: int) -> list[str]:
    if target.server == "raw":
        return [sys.executable, "-m", "bench.raw_server", str(port), str(port + 50)]
    if target.server == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            target.app,
            "--host=127.0.0.1",
            f"--port={port}",
            "--backlog=2048",
            "--lifespan=off",
            "--no-access-log",
            "--log-level=warning",
            "--loop=uvloop",
            "--http=auto",  # httptools when installed, else h11
            "--ws=websockets-sansio",
            "--ws-per-message-deflate=false",
        ]
    # daphne's default listen backlog (50) drops handshakes in a reconnect storm.
    return [
        str(BIN / "daphne"),
        "-e",
        f"tcp:port={port}:interface=127.0.0.1:backlog=2048",
        "-v",
        "0",
        target.app,
    ]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the server on port {port} did not start in {timeout:.0f}s")


@contextlib.contextmanager
def servers(target: Target, env: dict[str, str], log: Path):
    """Start the target's server processes, pinned to core 0; stop them afterwards."""
    processes: list[subprocess.Popen] = []
    ports = [BASE_PORT + i for i in range(target.workers)]
    with log.open("ab") as output:
        try:
            for port in ports:
                processes.append(
                    subprocess.Popen(
                        [*pinned(0), *server_command(target, port)],
                        cwd=ROOT,
                        env=env,
                        stdout=output,
                        stderr=output,
                        start_new_session=True,
                    )
                )
            for port, process in zip(ports, processes, strict=True):
                wait_for_port(port, process)
            yield ports, [process.pid for process in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def run_client(args: list[str], env: dict[str, str], progress: Progress) -> dict:
    """Run bench/client.py on core 1, relaying its progress lines to the bar."""
    process = subprocess.Popen(
        [*pinned(1), sys.executable, "-m", "bench.client", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors = []
    for line in process.stderr:
        if line.startswith("PROGRESS "):
            _, phase, done, total = line.split()
            progress.status(f"{phase} {done}/{total}")
        else:
            errors.append(line.rstrip())
    output = process.stdout.read()
    if process.wait() != 0:
        raise RuntimeError("the client failed:\n" + "\n".join(errors[-20:]))
    for line in errors:
        progress.write(f"    client: {line}")
    return json.loads(output)


def django(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def prepare_database(env: dict[str, str], labels: list[str]) -> dict:
    django(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    return json.loads(django(["-m", "bench.fixtures", *labels], env))


def postgres_and_redis(postgres_url: str, redis_url: str) -> str | None:
    """Recreate the bench's PostgreSQL database; None when both services answer, else why not."""
    try:
        import psycopg
        import redis
    except ImportError as error:
        return f"missing {error.name}"
    from urllib.parse import urlparse

    parsed = urlparse(postgres_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
    except Exception as error:
        return f"PostgreSQL at {admin} is not available ({error})"
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as error:
        return f"Redis at {redis_url} is not available ({error})"
    return None


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ["Django", "channels", "channels-redis", "daphne", "uvicorn", "websockets"]:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "pinned": bool(pinned(0)),
        "versions": versions,
    }


def fanout_args(target: Target, readers: int, entries: int, fixtures: dict, ports, pids):
    session = fixtures["sessions"].get(f"{target.name}-{readers}")
    args = [
        "fanout",
        "--ports",
        *map(str, ports),
        "--pids",
        *map(str, pids),
        "--readers",
        str(readers),
        "--entries",
        str(entries),
        "--entry-timeout",
        str(max(10.0, readers / 200)),
    ]
    if target.server == "raw":
        return [*args, "--post-port", str(ports[0] + 50), "--ws-path", "/", "--ready", "open"]
    return [
        *args,
        "--ws-path",
        f"/ws/sessions/{session}/",
        "--post-path",
        f"/api/sessions/{session}/entries",
        "--token",
        fixtures["token"],
    ]


def measure_pages(env: dict[str, str], log: Path, progress: Progress) -> dict:
    """The page with 10,000 entries and a 500-change catch-up: in process, then over the wire."""
    pages = json.loads(django(["-m", "bench.pages"], env))
    session, after = pages["session_id"], pages["catch_up_after"]
    pages["catch_up_through_server"] = {}
    for server in ("uvicorn", "daphne"):
        progress.status(f"catch-up through {server}")
        with servers(Target(server, server, server), env, log) as (ports, _):
            pages["catch_up_through_server"][server] = run_client(
                [
                    "catchup",
                    "--ports",
                    str(ports[0]),
                    "--ws-path",
                    f"/ws/sessions/{session}/?after={after}",
                    "--api-path",
                    f"/api/sessions/{session}/entries?after={after}&limit=500",
                    "--repeat",
                    "10",
                ],
                env,
                progress,
            )
    return pages


def remeasure_pages(workdir: Path, output: Path) -> None:
    """Measure the page and catch-up again and put them in the JSON of the last full run."""
    report = json.loads(output.read_text())
    env = server_env(workdir, "memory", {"sqlite": f"sqlite:///{workdir / 'bench.sqlite3'}"})
    django(["manage.py", "collectstatic", "--noinput", "-v", "0"], env)
    prepare_database(env, [])  # the blogger and the event bench/pages.py writes with
    progress = Progress(1)
    report["pages"] = measure_pages(env, workdir / "servers.log", progress)
    report["pages"]["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["pages"]["load_average"] = [round(x, 2) for x in os.getloadavg()]
    progress.bar.close()
    output.write_text(json.dumps(report, indent=2) + "\n")
    if output == DEFAULT_OUTPUT:
        from bench import report as render

        render.main([str(output)])
    shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fan-out benchmark (make bench).")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 readers only")
    parser.add_argument("--readers", type=int, nargs="+", help=f"default {READERS}")
    parser.add_argument("--only", nargs="+", help="target names", metavar="TARGET")
    parser.add_argument(
        "--entries",
        type=int,
        help="entries per run (default 30, 15 at 5,000, 10 above; 10 for the baseline)",
    )
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="measure the page and catch-up again into the existing JSON, and render it",
    )
    parser.add_argument("--skip-photos", action="store_true")
    parser.add_argument(
        "--skip-search",
        action="store_true",
        help="skip search over 100,000 entries (bench/search.py)",
    )
    parser.add_argument(
        "--skip-storm",
        action="store_true",
        help="skip the reconnect storm of 5,000 readers (bench/storm.py)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the JSON; docs/benchmarks.md is regenerated only for the default",
    )
    args = parser.parse_args()

    readers_list = args.readers or ([100, 1000] if args.quick else READERS)
    targets = [t for t in TARGETS if not args.only or t.name in args.only]
    unknown = set(args.only or []) - {t.name for t in TARGETS}
    if unknown:
        raise SystemExit(f"unknown targets {sorted(unknown)}; known: {[t.name for t in TARGETS]}")
    raise_fd_limit(max(readers_list) + 1024)

    workdir = Path(tempfile.mkdtemp(prefix="liveblog-bench-"))
    log = workdir / "servers.log"
    if args.pages_only:
        remeasure_pages(workdir, args.output)
        return
    databases = {
        "sqlite": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "postgres": os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/liveblog_bench"
        ),
        "redis": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
    }
    skipped: list[dict] = []
    if any(t.database == "postgres" for t in targets):
        reason = postgres_and_redis(databases["postgres"], databases["redis"])
        if reason:
            print(f"Skipping the Redis targets: {reason}", file=sys.stderr)
            skipped += [
                {"target": t.name, "reason": reason} for t in targets if t.database == "postgres"
            ]
            targets = [t for t in targets if t.database != "postgres"]

    # Every target at one N, then the next N: each ratio compares runs close in time.
    runs = [(t, n) for n in readers_list for t in targets if n <= t.max_readers]
    skipped += [
        {"target": t.name, "readers": n, "reason": f"above its limit of {t.max_readers:,} readers"}
        for t in targets
        for n in readers_list
        if n > t.max_readers
    ]
    labels = [f"{t.name}-{n}" for t, n in runs if t.server != "raw"]
    fixtures = {}
    print(f"Preparing databases in {workdir} ...", file=sys.stderr)
    memory_env = server_env(workdir, "memory", databases)
    django(["manage.py", "collectstatic", "--noinput", "-v", "0"], memory_env)
    fixtures["sqlite"] = prepare_database(memory_env, labels)
    if any(t.database == "postgres" for t in targets):
        postgres_env = server_env(workdir, "redis-pubsub", databases)
        fixtures["postgres"] = prepare_database(postgres_env, labels)

    started = time.monotonic()
    progress = Progress(len(runs) + (0 if args.skip_pages else 1))
    results = []
    for target, readers in runs:
        entries = args.entries or min(entries_for(readers), target.max_entries)
        progress.bar.set_description(f"{target.name} x{readers}")
        env = server_env(workdir, target.layer, databases)
        try:
            with servers(target, env, log) as (ports, pids):
                result = run_client(
                    fanout_args(target, readers, entries, fixtures[target.database], ports, pids),
                    env,
                    progress,
                )
        except RuntimeError as error:
            progress.write(f"{target.name} x{readers} failed: {error}")
            skipped.append({"target": target.name, "readers": readers, "reason": str(error)})
            progress.advance()
            continue
        result.update(
            load_average=round(os.getloadavg()[0], 2),
            target=target.name,
            label=target.label,
            server=target.server,
            workers=target.workers,
            layer=target.layer,
        )
        results.append(result)
        progress.write(
            f"{target.name:>22} x{readers:<6} p50 {result['p50_ms']:>8} ms  p99 "
            f"{result['p99_ms']:>8} ms  delivered {result['delivered']}/{result['expected']}  "
            f"{result['cpu_us_per_delivered']} us/msg  {result['kib_per_reader']} KiB/reader  "
            f"{result['handshakes_per_s']} handshakes/s"
        )
        progress.advance()

    pages = None
    if not args.skip_pages:
        progress.bar.set_description("pages and catch-up")
        try:
            pages = measure_pages(memory_env, log, progress)
        except RuntimeError as error:
            progress.write(f"pages and catch-up failed: {error}")
            skipped.append({"target": "pages", "reason": str(error)})
        progress.advance()
    photos = None
    if not args.skip_photos:
        progress.bar.set_description("a 12-megapixel photo")
        try:
            photos = json.loads(django(["-m", "bench.photos"], memory_env))
        except RuntimeError as error:
            progress.write(f"photos failed: {error}")
            skipped.append({"target": "photos", "reason": str(error)})
    progress.bar.close()

    if not args.skip_search:
        # Its own databases and its own JSON (bench/results/search.json), read by report.py.
        subprocess.run([sys.executable, "-m", "bench.search"], cwd=ROOT, check=False)
    if not args.skip_storm:
        # Its own server and its own JSON (bench/results/storm.json), read by report.py.
        storm = [sys.executable, "-m", "bench.storm"]
        if args.quick:
            storm += ["--readers", "1000"]
        if args.output != DEFAULT_OUTPUT:  # beside it, leaving the reported one alone
            storm += ["--output", str(args.output.with_name(args.output.stem + "-storm.json"))]
        subprocess.run(storm, cwd=ROOT, check=False)

    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started),
        "machine": machine(),
        "method": {
            "entries_per_run": "30 up to 1,000 readers, 15 at 5,000, 10 at 10,000 (10 for the "
            "baseline), after 2 unmeasured",
            "body_bytes": 600,
            "handshakes_in_flight": 100,
            "server_core": 0,
            "client_core": 1,
        },
        "fanout": results,
        "skipped": skipped,
        "pages": pages,
        "photos": photos,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {args.output} in {report['duration_s']} s", file=sys.stderr)
    if args.output == DEFAULT_OUTPUT:
        from bench import report as render

        render.main([str(args.output)])
    else:
        print(f"Render it with: python -m bench.report {args.output}", file=sys.stderr)
    if args.keep:
        print(f"Kept {workdir} (servers.log has the servers' output)", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
