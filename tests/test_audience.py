"""Audience figures: readers counted per process and across workers, told to the sockets,
kept per minute (realtime/audience.py), and shown by the API.

Nothing here waits on the wall clock: the audience round runs by hand (conftest turns the
background one off), and expiry and minutes follow a clock the test sets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from realtime import audience
from realtime.audience import (
    WORKER,
    Audience,
    encode_counts,
    live_totals,
    readers_now,
    record_minute,
)
from realtime.consumers import CLOSE_BAD_REQUEST
from realtime.hub import get_hub
from realtime.models import AudienceMinute
from tests.test_realtime import connect, next_message, reader

pytestmark = [pytest.mark.django_db(transaction=True)]


def api_readers_now(session_id: int) -> int:
    response = Client().get(f"/api/sessions/{session_id}")
    assert response.status_code == 200
    return response.json()["readers_now"]


async def test_a_reader_is_counted_while_connected_and_uncounted_at_once_when_gone(session):
    assert await sync_to_async(api_readers_now)(session.pk) == 0
    first = await connect(session.pk)
    assert readers_now(session.pk) == 1
    second = await connect(session.pk)
    assert await sync_to_async(api_readers_now)(session.pk) == 2
    await first.disconnect()
    assert readers_now(session.pk) == 1
    await second.disconnect()
    assert readers_now(session.pk) == 0
    assert await sync_to_async(api_readers_now)(session.pk) == 0


async def test_a_console_socket_hears_the_count_but_is_not_counted(session):
    console = await connect(session.pk, "after=0&console=1")
    assert readers_now(session.pk) == 0
    audience_member = await connect(session.pk, "console=0")
    assert readers_now(session.pk) == 1
    await get_hub().audience.tick()
    assert await next_message(console) == {"type": "readers", "count": 1}
    assert await next_message(audience_member) == {"type": "readers", "count": 1}
    await audience_member.disconnect()
    await get_hub().audience.tick()
    assert await next_message(console) == {"type": "readers", "count": 0}
    await console.disconnect()


async def test_a_console_flag_that_is_not_0_or_1_is_refused(session):
    communicator = reader(session.pk, "console=yes")
    assert (await communicator.connect())[0]
    assert (await communicator.receive_output(timeout=3))["code"] == CLOSE_BAD_REQUEST
    assert readers_now(session.pk) == 0


async def test_a_storm_of_joins_is_one_count_per_tick_and_only_when_it_changes(
    session, other_session
):
    readers = [await connect(session.pk) for _ in range(5)]
    elsewhere = await connect(other_session.pk)
    hub = get_hub()
    await hub.audience.tick()
    for communicator in readers:
        assert await next_message(communicator) == {"type": "readers", "count": 5}
        assert await communicator.receive_nothing(timeout=0.05)
    assert await next_message(elsewhere) == {"type": "readers", "count": 1}
    # Nothing changed: nothing sent.
    await hub.audience.tick()
    assert await readers[0].receive_nothing(timeout=0.05)
    # A new reader first hears the last count told, then the one that counts it.
    late = await connect(session.pk)
    assert await next_message(late) == {"type": "readers", "count": 5}
    await hub.audience.tick()
    assert await next_message(late) == {"type": "readers", "count": 6}
    assert await next_message(readers[0]) == {"type": "readers", "count": 6}
    for communicator in [*readers, elsewhere, late]:
        await communicator.disconnect()


def test_other_workers_count_until_their_time_runs_out():
    now = 1_000_000.0
    fields = {
        b"worker-a": encode_counts({3: 2, 4: 1}, until=now + 10),
        b"worker-b": encode_counts({3: 5}, until=now + 1),
        b"worker-dead": encode_counts({3: 100}, until=now - 5),
        b"worker-long-dead": encode_counts({3: 100}, until=now - 11),
        b"garbled": b"{not json",
        WORKER.encode(): encode_counts({3: 7}, until=now + 10),  # this process: counted live
    }
    totals, dead = live_totals(fields, now, exclude=WORKER, ttl=10)
    assert totals == {3: 7, 4: 1}
    assert sorted(dead) == ["garbled", "worker-long-dead"]
    # Two seconds on, worker-b has not refreshed: it no longer counts.
    assert live_totals(fields, now + 2, exclude=WORKER, ttl=10)[0] == {3: 2, 4: 1}
    # Ten more, nobody has: nobody counts (a worker killed with SIGKILL drops out so).
    assert live_totals(fields, now + 12, exclude=WORKER, ttl=10)[0] == {}


@pytest.fixture
def shared_redis(settings):
    """The counts pooled in the Redis of REDIS_URL (CI's second pass), on a key of this test's."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL (CI's second pass runs it)")
    settings.REDIS_URL = url
    settings.CHANNEL_LAYER = "redis-pubsub"
    settings.REDIS_PREFIX = f"test-audience-{os.urandom(4).hex()}"
    client = audience._sync_client(url.split(",")[0])
    yield client
    client.delete(audience.hash_key())


async def test_with_redis_a_worker_publishes_its_counts_and_adds_the_others_live_ones(
    session, shared_redis
):
    # An hour ahead of the real clock, which the API reads by: still live for it, whatever
    # the test's pace.
    clock = [float(int(time.time()) + 3600)]
    key = audience.hash_key()
    shared_redis.hset(key, "other-worker", encode_counts({session.pk: 3}, until=clock[0] + 10))
    communicator = await connect(session.pk)
    round_ = Audience(lambda: get_hub().subscriptions.values(), clock=lambda: clock[0])
    assert (await round_.tick())[session.pk] == 4
    published = json.loads(shared_redis.hget(key, WORKER))
    assert published == {"until": clock[0] + 10, "counts": {str(session.pk): 1}}
    assert readers_now(session.pk, now=clock[0]) == 4
    assert await sync_to_async(api_readers_now)(session.pk) == 4  # the real clock: still live

    # The other worker is killed: it never refreshes. Once its time is up it stops counting,
    # and a tick a whole expiry later deletes its field.
    clock[0] += 10
    assert readers_now(session.pk, now=clock[0]) == 1
    assert (await round_.tick())[session.pk] == 1
    assert shared_redis.hexists(key, "other-worker")
    clock[0] += 10
    await round_.tick()
    assert not shared_redis.hexists(key, "other-worker")

    # This worker's last reader leaves: its field goes at the next tick.
    await communicator.disconnect()
    assert readers_now(session.pk, now=clock[0]) == 0
    await round_.tick()
    assert not shared_redis.hexists(key, WORKER)


async def test_each_minute_is_written_once_it_is_over_with_its_last_count_and_peak(session):
    minute = dt.datetime(2026, 11, 24, 14, 5, tzinfo=dt.UTC)
    clock = [minute.timestamp() + 1]
    round_ = Audience(lambda: get_hub().subscriptions.values(), clock=lambda: clock[0])
    readers = [await connect(session.pk) for _ in range(3)]
    await round_.tick()
    await readers.pop().disconnect()
    clock[0] += 20
    await round_.tick()
    assert not await sync_to_async(AudienceMinute.objects.exists)()  # the minute is not over
    clock[0] += 40  # 14:06:01
    await round_.tick()
    rows = await sync_to_async(list)(AudienceMinute.objects.values("minute", "readers", "peak"))
    assert rows == [{"minute": minute, "readers": 2, "peak": 3}]
    for communicator in readers:
        await communicator.disconnect()
    clock[0] += 30  # 14:06:31: no one
    await round_.tick()
    clock[0] += 30  # 14:07:01: 14:06 had 2, then none
    await round_.tick()
    clock[0] += 60  # 14:08:01: 14:07 had no one: no row
    await round_.tick()
    rows = await sync_to_async(list)(
        AudienceMinute.objects.values_list("minute", "readers", "peak")
    )
    assert rows == [(minute, 2, 3), (minute + dt.timedelta(minutes=1), 0, 2)]


def test_workers_writing_the_same_minute_keep_the_greater_peak(session):
    minute = dt.datetime(2026, 11, 24, 14, 5, tzinfo=dt.UTC)
    record_minute(minute, {session.pk: (4, 9)})
    record_minute(minute, {session.pk: (5, 6)})  # a second worker, a sample later
    record_minute(minute, {session.pk + 999: (1, 1)})  # a session deleted meanwhile
    row = AudienceMinute.objects.get()
    assert (row.session_id, row.readers, row.peak) == (session.pk, 5, 9)
