"""Real-browser tests: Playwright driving Debian's chromium against a real daphne server.

The server runs in its own process on a free port, on its own database (a SQLite file,
or a fresh PostgreSQL database when DATABASE_URL is PostgreSQL) with the demo seeded, and
on the configured channel layer (Redis when REDIS_URL is set). On a machine without
chromium these tests skip; with REQUIRE_BROWSER=1 (CI) a skip is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
DEMO_PASSWORD = "browser-tests-password"
TIMEOUT_MS = 20_000
SESSION = "/events/smw-london-2026/like-minds-social-business/"


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _require_browser() -> None:
    if CHROMIUM:
        return
    reason = "Debian's chromium is not installed (apt-get install chromium)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_database() -> tuple[str, callable]:
    """A database of the server's own, and a function that drops it afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        name = f"liveblog_browser_{uuid.uuid4().hex[:8]}"
        parts = urlsplit(url)
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return urlunsplit(parts._replace(path=f"/{name}")), drop
    directory = tempfile.mkdtemp(prefix="liveblog-browser-")
    return f"sqlite:///{directory}/db.sqlite3", lambda: shutil.rmtree(directory, ignore_errors=True)


class LiveServer:
    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url = url
        self.env = env

    def manage(self, *args: str) -> str:
        """Run a management command against the server's database."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr}")
        return result.stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code)


@contextlib.contextmanager
def _serve(
    module: str = "liveblog.server", extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """A daphne server on a free port and a database of its own, with the demo seeded.

    `module` is what runs it: liveblog.server, or a test's wrapper around it."""
    _require_browser()
    database_url, drop = _server_database()
    port = _free_port()
    media = tempfile.TemporaryDirectory(prefix="liveblog-media-")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
        "REDIS_PREFIX": f"browser-{uuid.uuid4().hex[:6]}",
        # One blogger logs in and posts for every test: the limits are tested elsewhere.
        "RATE_LIMIT_LOGIN": "10000",
        "RATE_LIMIT_LOGIN_PER_ADDRESS": "10000",
        "RATE_LIMIT_POSTS": "10000",
        "RATE_LIMIT_QUESTIONS": "10000",
        # The console asks for new questions every second (5 in production).
        "QUESTIONS_POLL_SECONDS": "1",
        "MEDIA_ROOT": media.name,  # photos' renditions: never into the work tree
        **(extra_env or {}),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    server = LiveServer(f"http://127.0.0.1:{port}", env)
    with tempfile.NamedTemporaryFile(prefix="liveblog-daphne-", suffix=".log") as log:
        process = None
        try:
            server.manage("migrate", "--noinput")
            server.manage("seed_demo")
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    module,
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(server.url + "/", timeout=2)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "daphne did not start:\n" + Path(log.name).read_text()
                        ) from None
                    time.sleep(0.2)
            yield server
        finally:
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            drop()
            media.cleanup()


@pytest.fixture(scope="package")
def live_server_url() -> Iterator[LiveServer]:
    """The server most tests share: they add entries, so assert on what they add."""
    with _serve() as server:
        yield server


@pytest.fixture(scope="module")
def pristine_server() -> Iterator[LiveServer]:
    """A server of the module's own, holding the demo exactly as seeded (for screenshots)."""
    with _serve() as server:
        yield server


# Package scope: Playwright's sync API keeps an event loop marked as running while it is
# open, which would break every asyncio test collected after the browser tests.
@pytest.fixture(scope="package")
def browser():
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    # Generous waits: the machine running the suite may be busy with other work.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Pages in fresh contexts (separate cookies and storage), closed after the test."""
    contexts = []

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def log_in(page, server: LiveServer, username: str = "blogger") -> None:
    page.goto(server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(server.url + "/")


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:6]}"


def open_reader(new_page, server: LiveServer, path: str = SESSION, **options):
    """A reader on a session page, once its socket has caught up and is live."""
    page = new_page(**options)
    page.goto(server.url + path)
    wait_until_live(page)
    return page


def wait_until_live(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator("[data-live-session]")).to_have_attribute("data-connection", "live")


def open_console(new_page, server: LiveServer, path: str = SESSION, **options):
    page = new_page(**options)
    log_in(page, server)
    page.goto(server.url + path + "console/")
    return page
