"""The production topology, for real: two daphne workers on PostgreSQL and Redis, Caddy in front.

Readers connect to both workers (directly, and through the proxy, which spreads them);
a blogger posts through one worker's console, and every reader on both gets each entry
exactly once. Then one worker stops: its readers reconnect through the proxy, which sends
them to the other, and catch up with no gap and no duplicate.

Runs when DATABASE_URL is PostgreSQL and REDIS_URL is set (CI's second pass, with
REQUIRE_MULTIPROCESS=1 so that it cannot quietly skip there).
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.multiworker_support import (
    EVENT_SLUG,
    ORGANISER,
    SESSION_SLUG,
    Blogger,
    Reader,
    WorkerDatabase,
    html_id,
    http_request,
    manage,
    production_env,
    require,
    running_topology,
    topology_urls,
)

pytestmark = [pytest.mark.multiprocess]

DIRECT_READERS_PER_WORKER = 3
PROXY_READERS = 4


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The workers' database, migrated and seeded, and collected static files."""
    database_url, redis_url = topology_urls()
    try:
        import websockets  # noqa: F401
    except ImportError:
        require(False, "the multi-worker tests need the websockets client library")
    worker_db = WorkerDatabase(database_url)
    worker_db.create()
    try:
        static_root = tmp_path_factory.mktemp("static")
        env = production_env(worker_db.url, redis_url, static_root)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        manage(env, "collectstatic", "--noinput")
        session_id = worker_db.query_one(
            "SELECT s.id FROM talks_session s JOIN events_event e ON e.id = s.event_id"
            " WHERE e.slug = %s AND s.slug = %s",
            EVENT_SLUG,
            SESSION_SLUG,
        )[0]
        yield worker_db, env, session_id
    finally:
        worker_db.drop()


@pytest.fixture
def topology(prepared, tmp_path):
    worker_db, env, session_id = prepared
    with running_topology(worker_db, env, tmp_path, session_id) as topology:
        topology.start_worker("worker-a")
        topology.start_worker("worker-b")
        yield topology


def last_seq(prepared) -> int:
    worker_db, _, session_id = prepared
    return worker_db.query_one("SELECT last_seq FROM talks_session WHERE id = %s", session_id)[0]


async def connect_readers(topology, after: int, proxy_port: int | None) -> list[Reader]:
    readers = []
    for worker in ("worker-a", "worker-b"):
        for i in range(DIRECT_READERS_PER_WORKER):
            reader = Reader(f"{worker}-direct-{i}", topology.session_id)
            await reader.connect(topology.port(worker), after)
            readers.append(reader)
    if proxy_port is not None:
        for i in range(PROXY_READERS):
            reader = Reader(f"proxy-{i}", topology.session_id)
            await reader.connect(proxy_port, after)
            readers.append(reader)
    return readers


async def close_all(readers: list[Reader]) -> None:
    await asyncio.gather(*(reader.close() for reader in readers), return_exceptions=True)


async def test_every_reader_on_both_workers_gets_each_entry_posted_through_one_exactly_once(
    prepared, topology
):
    proxy_port = topology.start_proxy()
    start = last_seq(prepared)
    readers = await connect_readers(topology, start, proxy_port)
    try:
        assert all(reader.caught_up_at == [start] for reader in readers)
        blogger = Blogger(topology.port("worker-a"))
        await asyncio.to_thread(blogger.log_in)
        for n in range(3):
            await blogger.post_async(f"Entry {n} from the multi-worker test")

        received = await asyncio.gather(*(reader.changes(3) for reader in readers))
        for reader, messages in zip(readers, received, strict=True):
            assert [m["seq"] for m in messages] == [start + 1, start + 2, start + 3], reader.name
            assert {(m["type"], m["action"]) for m in messages} == {("entry", "created")}
            await reader.assert_nothing_pending()
        # Rendered once and sent as it is: every reader got the very same fragments.
        assert len({tuple(m["html"] for m in messages) for messages in received}) == 1
        assert len({html_id(m) for m in received[0]}) == 3
    finally:
        await close_all(readers)


async def test_readers_of_a_stopped_worker_catch_up_through_the_proxy_with_no_gap_or_duplicate(
    prepared, topology
):
    proxy_port = topology.start_proxy()
    start = last_seq(prepared)
    readers = await connect_readers(topology, start, proxy_port)
    try:
        blogger = Blogger(topology.port("worker-a"))
        await asyncio.to_thread(blogger.log_in)
        await blogger.post_async("Before the stop")
        for reader in readers:
            assert [m["seq"] for m in await reader.changes(1)] == [start + 1], reader.name

        topology.stop_worker("worker-b")
        await blogger.post_async("While worker B is down")
        outcomes = await asyncio.gather(*(reader.closed_or_change() for reader in readers))
        dropped = [r for r, message in zip(readers, outcomes, strict=True) if message is None]
        kept = [r for r, message in zip(readers, outcomes, strict=True) if message is not None]
        assert {r.name for r in dropped} >= {
            f"worker-b-direct-{i}" for i in range(DIRECT_READERS_PER_WORKER)
        }
        assert not any(r.name.startswith("worker-a") for r in dropped)
        if proxy_port is not None:
            # The proxy had spread its readers over both workers.
            assert any(r.name.startswith("proxy") for r in dropped)
            assert any(r.name.startswith("proxy") for r in kept)
        await blogger.post_async("Still down: one more to catch up on")
        for reader in kept:
            assert [m["seq"] for m in await reader.changes(1)] == [start + 3], reader.name

        # Each dropped reader comes back with the cursor of the last change it applied.
        reconnect_port = proxy_port or topology.port("worker-a")
        for reader in dropped:
            assert reader.cursor == start + 1
            await reader.connect(reconnect_port, after=reader.cursor)
            assert reader.caught_up_at[-1] == start + 3

        await blogger.post_async("After the reconnect")
        for reader in readers:
            assert [m["seq"] for m in await reader.changes(1)] == [start + 4], reader.name
            await reader.assert_nothing_pending()
            # No gap, no duplicate, in order, whichever way each reader went.
            assert reader.applied == [start + 1, start + 2, start + 3, start + 4], reader.name
    finally:
        await close_all(readers)


async def test_the_proxy_forwards_websocket_upgrades_and_health_checks(prepared, topology):
    proxy_port = topology.start_proxy()
    require(proxy_port is not None, "Caddy (Debian package `caddy`) is not installed")
    reader = Reader("through-the-proxy", topology.session_id)
    try:
        await reader.connect(proxy_port, after=0)
        # Catch-up through the proxy: the demo session's seeded entries, then caught_up.
        assert reader.applied == sorted(reader.applied)
        assert reader.caught_up_at == [last_seq(prepared)]
    finally:
        await reader.close()


async def eventually(what: str, check, timeout: float) -> None:
    """Poll check() (in a thread) until it is true; the workers' rounds run on their clock."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        last = await asyncio.to_thread(check)
        if last is True:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what}: still {last!r} after {timeout}s")
        await asyncio.sleep(0.25)


def readers_now(port: int, session_id: int) -> int:
    status, headers, body = http_request(
        port,
        "GET",
        f"/api/sessions/{session_id}",
        headers={"Host": f"127.0.0.1:{port}", "X-Forwarded-Proto": "https"},
    )
    assert status == 200, (status, headers.get("Location"), body[:300])
    return json.loads(body)["readers_now"]


async def test_readers_on_both_workers_are_counted_together_told_kept_per_minute_and_a_killed_workers_drop_out(
    prepared, topology
):
    """Followed through both workers, a session shows the sum in the API, on the sockets
    and on the dashboard; the minute is written; a worker killed with SIGKILL drops out
    once its published counts expire (AUDIENCE_TTL_SECONDS, 10 s)."""
    worker_db, _, session_id = prepared
    proxy_port = topology.start_proxy()
    start = last_seq(prepared)
    on_a = [Reader(f"a-{i}", session_id) for i in range(2)]
    on_b = [Reader(f"b-{i}", session_id) for i in range(3)]
    # Through Caddy, which spreads them over both workers, when it is installed.
    proxied = [Reader(f"proxy-{i}", session_id) for i in range(2 if proxy_port else 0)]
    try:
        for reader in on_a:
            await reader.connect(topology.port("worker-a"), start)
        for reader in on_b:
            await reader.connect(topology.port("worker-b"), start)
        for reader in proxied:
            await reader.connect(proxy_port, start)
        total = 5 + len(proxied)
        # (The API is read on each worker directly: Caddy here speaks plain HTTP, which the
        # production settings redirect to HTTPS.)
        for port in (topology.port("worker-a"), topology.port("worker-b")):
            await eventually(
                f"readers_now through port {port}",
                lambda port=port: (
                    readers_now(port, session_id) == total or readers_now(port, session_id)
                ),
                timeout=15,
            )
        # Every socket, on either worker, is told the sum.
        for reader in (on_a[0], on_b[0], *proxied):
            async with asyncio.timeout(15):
                while (message := await reader._receive()) != {"type": "readers", "count": total}:
                    assert message["type"] == "readers", message

        organiser = Blogger(topology.port("worker-b"), ORGANISER)
        await asyncio.to_thread(organiser.log_in)
        status, _, html = await asyncio.to_thread(
            organiser._request, "GET", f"/organise/{EVENT_SLUG}/dashboard/"
        )
        assert status == 200, html[:300]
        cell = re.search(
            rf'<tr data-session="{session_id}">.*?data-figure="readers-now">(.*?)</td>', html, re.S
        ).group(1)
        assert re.sub(r"<[^>]+>|Reading now: ", "", cell).strip() == str(total)

        # The minute is written once it is over (by both workers, the same row).
        def minute_written():
            peak = worker_db.query_one(
                "SELECT COALESCE(MAX(peak), 0) FROM realtime_audienceminute WHERE session_id = %s",
                session_id,
            )[0]
            return peak == total or peak

        await eventually("the minute's row", minute_written, timeout=75)
        status, _, html = await asyncio.to_thread(
            organiser._request, "GET", f"/organise/{EVENT_SLUG}/dashboard/"
        )
        assert "<svg" in html and f": {total} readers</title>" in html

        await close_all(proxied)
        await eventually(
            "readers_now once the proxied readers left",
            lambda: (
                readers_now(topology.port("worker-a"), session_id) == 5
                or readers_now(topology.port("worker-a"), session_id)
            ),
            timeout=15,
        )
        # worker-b dies without a word: its three readers stop counting within its expiry.
        topology.kill_worker("worker-b")
        await eventually(
            "readers_now after worker-b was killed",
            lambda: (
                readers_now(topology.port("worker-a"), session_id) == 2
                or readers_now(topology.port("worker-a"), session_id)
            ),
            timeout=20,
        )
        async with asyncio.timeout(20):
            while (message := await on_a[0]._receive()) != {"type": "readers", "count": 2}:
                assert message["type"] == "readers", message
    finally:
        await close_all([*on_a, *on_b, *proxied])
