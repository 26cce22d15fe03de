"""The production topology on one machine, for tests/test_multiworker.py.

Daphne workers and the Caddy proxy run as real subprocesses against the machine's
PostgreSQL (a database of their own) and Redis (a key prefix of their own), with the
production settings of docs/deploy.md. Every wait is bounded and every process is
stopped, then killed if it must be, whatever happens in the test.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
CADDYFILE = BASE_DIR / "deploy" / "Caddyfile"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
MESSAGE_TIMEOUT = 10.0

# seed_demo's live session and its assigned blogger.
EVENT_SLUG = "smw-london-2026"
SESSION_SLUG = "like-minds-social-business"
BLOGGER = ("blogger", "liveblog-demo")
ORGANISER = ("organiser", "liveblog-demo")


def require(condition: bool, reason: str) -> None:
    """Skip when the topology cannot run here; under REQUIRE_MULTIPROCESS=1 (CI) fail."""
    if condition:
        return
    if os.environ.get("REQUIRE_MULTIPROCESS") == "1":
        pytest.fail(f"REQUIRE_MULTIPROCESS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def topology_urls() -> tuple[str, str]:
    """DATABASE_URL and REDIS_URL, or a skip (a failure in CI) naming what is missing."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    require(
        urllib.parse.urlsplit(database_url).scheme in {"postgres", "postgresql", "pgsql"},
        "the multi-worker tests need DATABASE_URL pointing at PostgreSQL",
    )
    require(bool(redis_url), "the multi-worker tests need REDIS_URL")
    return database_url, redis_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerDatabase:
    """A PostgreSQL database for the workers, beside the test run's own, dropped at the end."""

    def __init__(self, database_url: str) -> None:
        parts = urllib.parse.urlsplit(database_url)
        base = parts.path.lstrip("/") or "liveblog"
        self.name = f"{base}_workers"[:63]
        self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))
        # The maintenance database, to create and drop the workers' one.
        self._admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def create(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query_one(self, sql: str, *params: Any) -> tuple:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=10) as conn:
            row = conn.execute(sql, params).fetchone()
        assert row is not None, sql
        return row


def production_env(database_url: str, redis_url: str, static_root: Path) -> dict[str, str]:
    """docs/deploy.md's production settings, for workers reached on 127.0.0.1."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "BEHIND_TLS_PROXY": "1",
        "SECURE_HSTS_PRELOAD": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # The workers share a prefix no other test run uses.
        "REDIS_PREFIX": f"liveblog-mw-{uuid.uuid4().hex[:8]}",
        "STATIC_ROOT": str(static_root),
        "DATABASE_POOL_MAX_SIZE": "4",
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


class Process:
    """A subprocess whose output goes to a log file, shown when something goes wrong."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so nothing it forks outlives it
        )

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def running(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the machine's OOM killer strikes."""
        if self.running():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if self.running():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=STOP_TIMEOUT)
        self._log.close()


def wait_for_health(process: Process, port: int, host: str = "127.0.0.1") -> None:
    """Poll /healthz on port until it answers 200, the process dies, or the time is up."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if not process.running():
            raise AssertionError(f"{process.name} exited at start:\n{process.log_tail()}")
        try:
            status, _, body = http_request(port, "GET", "/healthz", headers={"Host": host})
            if status == 200:
                return
            last = f"{status} {body[:200]!r}"
        except OSError as error:
            last = repr(error)
        time.sleep(0.2)
    raise AssertionError(
        f"{process.name} not healthy within {STARTUP_TIMEOUT}s ({last}):\n{process.log_tail()}"
    )


def http_request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPMessage, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=MESSAGE_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Topology:
    """Two (or more) daphne workers sharing PostgreSQL and Redis, Caddy in front if present."""

    def __init__(self, env: dict[str, str], log_dir: Path, session_id: int) -> None:
        self.env = env
        self.log_dir = log_dir
        self.session_id = session_id
        self.workers: dict[str, tuple[Process, int]] = {}
        self.proxy: tuple[Process, int] | None = None

    def start_worker(self, name: str, port: int | None = None) -> int:
        """Start a worker (again, on its old port, when given one) and wait until healthy."""
        port = port or free_port()
        process = Process(
            name,
            [
                sys.executable,
                "-m",
                "liveblog.server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--proxy-headers",
            ],
            self.env,
            self.log_dir,
        )
        self.workers[name] = (process, port)
        wait_for_health(process, port)
        return port

    def port(self, name: str) -> int:
        return self.workers[name][1]

    def stop_worker(self, name: str) -> None:
        self.workers[name][0].stop()

    def kill_worker(self, name: str) -> None:
        self.workers[name][0].kill()

    def start_proxy(self) -> int | None:
        """Caddy with deploy/Caddyfile in front of every worker; None when Caddy is missing."""
        caddy = shutil.which("caddy")
        if caddy is None:
            return None
        port = free_port()
        home = self.log_dir / "caddy-home"
        home.mkdir(exist_ok=True)
        upstreams = " ".join(f"127.0.0.1:{port}" for _, port in self.workers.values())
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "CADDY_ADMIN": "off",
            "SITE_ADDRESS": f"http://127.0.0.1:{port}",
            "LIVEBLOG_UPSTREAMS": f"to {upstreams}",
            "HEALTH_HOST": "127.0.0.1",
        }
        process = Process(
            "caddy",
            [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env,
            self.log_dir,
        )
        self.proxy = (process, port)
        wait_for_health(process, port)
        return port

    def stop(self) -> None:
        for process, _ in [*self.workers.values(), *([self.proxy] if self.proxy else [])]:
            process.stop()

    def diagnostics(self) -> str:
        processes = [*self.workers.values(), *([self.proxy] if self.proxy else [])]
        return "\n\n".join(f"== {p.name}\n{p.log_tail()}" for p, _ in processes)


@contextmanager
def running_topology(
    worker_db: WorkerDatabase, base_env: dict[str, str], log_dir: Path, session_id: int
) -> Iterator[Topology]:
    topology = Topology(base_env, log_dir, session_id)
    try:
        yield topology
    except BaseException:
        print(topology.diagnostics(), file=sys.stderr)
        raise
    finally:
        topology.stop()


class Blogger:
    """Posts entries through one worker's console over HTTP, as the browser would.

    Requests carry X-Forwarded-Proto: https, as the TLS proxy adds, so the worker runs with
    the production settings unchanged (secure cookies, HTTPS redirect, HSTS).
    """

    def __init__(self, port: int, credentials: tuple[str, str] = BLOGGER) -> None:
        self.port = port
        self.credentials = credentials
        self.cookies: dict[str, str] = {}

    def _request(self, method: str, path: str, form: dict[str, str] | None = None):
        origin = f"https://127.0.0.1:{self.port}"
        headers = {
            "Host": f"127.0.0.1:{self.port}",
            "X-Forwarded-Proto": "https",
            "Origin": origin,
            "Referer": origin + path,
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            body = urllib.parse.urlencode(form).encode()
        status, response_headers, text = http_request(
            self.port, method, path, headers=headers, body=body
        )
        for header in response_headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return status, response_headers, text

    def log_in(self) -> None:
        status, _, _ = self._request("GET", "/accounts/login/")
        assert status == 200, status
        username, password = self.credentials
        status, headers, text = self._request(
            "POST", "/accounts/login/", {"username": username, "password": password}
        )
        assert status == 302, f"login answered {status}: {text[:300]}"
        assert "sessionid" in self.cookies

    def post(self, body: str) -> None:
        path = f"/events/{EVENT_SLUG}/{SESSION_SLUG}/console/entries/"
        status, _, text = self._request("POST", path, {"kind": "text", "body": body})
        assert status == 302, f"posting answered {status}: {text[:300]}"

    async def post_async(self, body: str) -> None:
        await asyncio.to_thread(self.post, body)


class Reader:
    """One reader's websocket, recording every change it applies (docs/realtime.md)."""

    def __init__(self, name: str, session_id: int) -> None:
        self.name = name
        self.session_id = session_id
        self.connection = None
        self.cursor = 0
        self.applied: list[int] = []  # the seq of every entry or status change received
        self.caught_up_at: list[int] = []

    async def connect(self, port: int, after: int) -> None:
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{port}/ws/sessions/{self.session_id}/?after={after}"
        async with asyncio.timeout(MESSAGE_TIMEOUT):
            self.connection = await connect(
                url, origin=f"http://127.0.0.1:{port}", open_timeout=MESSAGE_TIMEOUT
            )
            self.cursor = after
            while True:
                message = await self._receive()
                if message["type"] == "caught_up":
                    self.caught_up_at.append(message["seq"])
                    self.cursor = max(self.cursor, message["seq"])
                    return

    async def _receive(self) -> dict[str, Any]:
        assert self.connection is not None
        message = json.loads(await self.connection.recv())
        if message["type"] in {"entry", "status"}:
            self.applied.append(message["seq"])
            self.cursor = max(self.cursor, message["seq"])
        return message

    async def next_change(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(MESSAGE_TIMEOUT):
                while True:
                    message = await self._receive()
                    if message["type"] in {"entry", "status"}:
                        return message
                    assert message["type"] in {"pong", "readers"}, message
        except TimeoutError:
            raise AssertionError(
                f"{self.name} received no change after seq {self.cursor} within {MESSAGE_TIMEOUT}s"
            ) from None

    async def changes(self, count: int) -> list[dict[str, Any]]:
        return [await self.next_change() for _ in range(count)]

    async def assert_nothing_pending(self) -> None:
        """A ping's pong comes back after anything already queued for this reader."""
        assert self.connection is not None
        await self.connection.send(json.dumps({"type": "ping"}))
        async with asyncio.timeout(MESSAGE_TIMEOUT):
            message = json.loads(await self.connection.recv())
            while message["type"] == "readers":  # the audience's count: no change
                message = json.loads(await self.connection.recv())
        assert message == {"type": "pong"}, f"{self.name} had more queued: {message}"

    async def closed_or_change(self) -> dict[str, Any] | None:
        """The next change, or None if the connection closes first (its worker stopped)."""
        from websockets.exceptions import ConnectionClosed

        try:
            return await self.next_change()
        except ConnectionClosed:
            self.connection = None
            return None

    async def close(self) -> None:
        if self.connection is not None:
            async with asyncio.timeout(STOP_TIMEOUT):
                await self.connection.close()
            self.connection = None


def html_id(message: dict[str, Any]) -> str:
    match = re.search(r'id="(entry-\d+)"', message.get("html", ""))
    return match.group(1) if match else ""
