"""A room reconnecting at once: readers with the same cursor share catch-up reads, safely.

bench/storm.py measures the storm itself (docs/benchmarks.md); these tests pin what made it
fast enough without letting any reader miss a change.
"""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest
from channels.db import database_sync_to_async as sync_to_async

from entries import stream
from liveblog import server
from realtime.consumers import SharedCatchUps
from tests.conftest import post_entry
from tests.test_realtime import reader


class BlockingLoader:
    """A catch-up loader that returns the number of its call, each held until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = threading.Semaphore(0)
        self.release = threading.Semaphore(0)
        self.fail = False

    def __call__(self, session_id: int, after: int):
        self.calls += 1
        call = self.calls
        self.started.release()
        self.release.acquire(timeout=10)
        if self.fail:
            raise RuntimeError("database down")
        return "ok", [{"read": call}], after


async def started(loader: BlockingLoader) -> None:
    assert await asyncio.to_thread(loader.started.acquire, True, 10)


async def test_readers_asking_while_a_read_runs_share_the_next_read_not_the_running_one():
    loader = BlockingLoader()
    shared = SharedCatchUps(loader)
    first = asyncio.ensure_future(shared(1, 5))
    await started(loader)
    # These joined the hub after the first read began: it may miss changes they must see.
    later = [asyncio.ensure_future(shared(1, 5)) for _ in range(3)]
    await asyncio.sleep(0)
    assert loader.calls == 1
    loader.release.release()
    assert (await first)[1] == [{"read": 1}]
    await started(loader)  # the next read starts only now, after all three asked
    loader.release.release()
    results = await asyncio.gather(*later)
    assert [payloads for _, payloads, _ in results] == [[{"read": 2}]] * 3
    assert loader.calls == 2


async def test_other_cursors_and_sessions_read_on_their_own():
    loader = BlockingLoader()
    shared = SharedCatchUps(loader)
    tasks = [asyncio.ensure_future(shared(*key)) for key in [(1, 5), (1, 6), (2, 5)]]
    for _ in tasks:
        await started(loader)
        loader.release.release()
    results = await asyncio.gather(*tasks)
    assert [cursor for _, _, cursor in results] == [5, 6, 5]
    assert loader.calls == 3


async def test_a_failed_read_fails_every_reader_that_shared_it_and_the_next_one_reads_again():
    loader = BlockingLoader()
    shared = SharedCatchUps(loader)
    first = asyncio.ensure_future(shared(1, 5))
    await started(loader)
    later = [asyncio.ensure_future(shared(1, 5)) for _ in range(2)]
    loader.fail = True
    loader.release.release()
    with pytest.raises(RuntimeError):
        await first
    await started(loader)
    loader.release.release()
    for task in later:
        with pytest.raises(RuntimeError):
            await task
    loader.fail = False
    retry = asyncio.ensure_future(shared(1, 5))
    await started(loader)
    loader.release.release()
    assert (await retry)[1] == [{"read": 3}]


@pytest.mark.django_db(transaction=True)
async def test_a_crowd_reconnecting_with_one_cursor_is_caught_up_by_one_or_two_reads(
    session, blogger, monkeypatch
):
    for i in range(3):
        await sync_to_async(post_entry)(session, blogger, f"Missed while the Wi-Fi was down {i}")
    reads = []
    load = stream.CatchUp.load

    def counted(self):
        reads.append(self.after)
        return load(self)

    monkeypatch.setattr(stream.CatchUp, "load", counted)
    crowd = [reader(session.pk, "after=0") for _ in range(20)]
    results = await asyncio.gather(*(communicator.connect() for communicator in crowd))
    assert all(connected for connected, _ in results)
    for communicator in crowd:
        messages = [await communicator.receive_json_from(timeout=5) for _ in range(4)]
        assert [(m["type"], m["seq"]) for m in messages] == [
            ("entry", 1),
            ("entry", 2),
            ("entry", 3),
            ("caught_up", 3),
        ]
        assert await communicator.receive_nothing()
    assert 1 <= len(reads) <= 2
    for communicator in crowd:
        await communicator.disconnect()


def test_autobahn_formats_its_debug_lines_arguments_only_when_they_are_printed():
    from autobahn.twisted import websocket as autobahn_twisted
    from autobahn.util import hltype, hlval
    from autobahn.websocket import protocol

    value = [("openHandshakeTimeout", 10, "WebSocketServerFactory")]
    server.quiet_autobahn()
    server.quiet_autobahn()  # twice is once
    deferred = protocol.pformat(value)
    assert isinstance(deferred, server._Deferred)
    assert str(deferred) == f"{deferred}" == __import__("pprint").pformat(value)
    assert str(autobahn_twisted.hltype(server.main)) == hltype(server.main)
    assert f"{protocol.hlval(7)}" == hlval(7)
    timings = protocol.Timings()
    timings.track("connect")
    assert str(timings).startswith("{'connect'")


def test_the_server_tunes_the_garbage_collector_for_many_sockets(monkeypatch):
    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "set_threshold", lambda *t: calls.append(t))
    server.tune_garbage_collector()
    assert calls == ["freeze", (server.GC_THRESHOLD, 10, 10)]
