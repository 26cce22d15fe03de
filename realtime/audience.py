"""Audience figures: the readers following each session right now, and a per-minute history.

Counting
    The hub (realtime/hub.py) counts each session's readers in this process as their
    sockets join and leave (`arrive`, `depart`: a dictionary update, no I/O). A reader is
    a socket of the session's stream: a session page, an embed, a series page's socket for
    that session. A console's socket (`?console=1`, static/js/console-live.js) hears the
    figure but is not counted: the bloggers are not the audience. With the in-memory layer
    (one process) the process's count is the whole count, exact at once.

    With Redis (several workers), each process publishes its own counts every tick into one
    Redis hash: field = the process's id (WORKER), value = JSON
    {"until": T, "counts": {"<session id>": N}}, T being the tick's time plus
    AUDIENCE_TTL_SECONDS. readers_now is this process's own count (exact at once) plus the
    other fields whose `until` is still ahead: a reader who leaves another worker is
    uncounted by its next tick (2 s). A process whose last reader left deletes its field;
    one killed with SIGKILL stops refreshing it, and it stops counting TTL seconds (10)
    after its last tick; a field dead for another TTL is deleted by the next tick that
    sees it. Expiry compares the writer's clock with the reader's, so the workers' clocks
    must agree to within a few seconds (NTP), as they must for sign-in sessions anyway.

    The hash is named by REDIS_PREFIX and by the database (engine, host, port, name):
    counts are of one database's sessions, so servers and test runs on other databases
    that share a Redis never add up.

Telling readers
    Every tick (AUDIENCE_TICK_SECONDS, 2 s) each process compares each of its sessions'
    counts with what it last told that session's sockets and, if it changed, sends
    {"type": "readers", "count": N} to all of them: at most one frame per session per
    tick, however many readers join at once. A socket that goes live is sent the last
    figure told (the next tick brings the one that counts it).

History (AudienceMinute)
    Each tick also samples the counts into the current minute (the latest count and the
    most at once); when the minute is over the process writes it, one UPDATE per session
    that had readers (an INSERT the first time). Every process writes the same row
    (session, minute) with the same totals, since all read the same hash, and `peak` as
    the greater of the stored one and its own: no election and no coordination, the writes
    are idempotent, a worker killed mid-minute leaves the others to write it, and no
    clock process (run_clock) is needed. It costs one small write per live session per
    worker per minute, and none at all while nobody reads.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Value
from django.db.models.functions import Greatest

from realtime.models import AudienceMinute
from sessions.models import Session

logger = logging.getLogger(__name__)

# This process's name in the shared hash.
WORKER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
# The shared hash itself is forgotten a day after the last write (a database no longer served).
HASH_EXPIRY_SECONDS = 24 * 3600

# Counted readers in this process, by session id (every hub of the process adds here).
_local: dict[int, int] = {}


def arrive(session_id: int) -> None:
    _local[session_id] = _local.get(session_id, 0) + 1


def depart(session_id: int) -> None:
    count = _local.get(session_id, 0) - 1
    if count > 0:
        _local[session_id] = count
    else:
        _local.pop(session_id, None)


def local_counts() -> dict[int, int]:
    """This process's counted readers by session (a copy: the hub changes it as they come)."""
    return dict(_local)


def shared() -> bool:
    """Whether counts are pooled in Redis: with the Redis layers, i.e. several processes."""
    return bool(settings.REDIS_URL) and settings.CHANNEL_LAYER != "memory"


def _redis_url() -> str:
    return settings.REDIS_URL.split(",")[0].strip()


def hash_key() -> str:
    database = connections["default"].settings_dict
    return _hash_key(
        settings.REDIS_PREFIX,
        f"{database['ENGINE']}|{database.get('HOST')}|{database.get('PORT')}|{database['NAME']}",
    )


@functools.lru_cache(maxsize=8)
def _hash_key(prefix: str, database: str) -> str:
    return f"{prefix}:audience:{hashlib.sha256(database.encode()).hexdigest()[:12]}"


def encode_counts(counts: dict[int, int], until: float) -> str:
    return json.dumps(
        {"until": round(until, 3), "counts": {str(k): v for k, v in counts.items()}},
        separators=(",", ":"),
    )


def live_totals(
    fields: dict[Any, Any], now: float, exclude: str | None = None, ttl: float = 0.0
) -> tuple[dict[int, int], list[str]]:
    """The other processes' counts summed by session, and the fields long dead.

    A field counts while its `until` is ahead of now; one whose `until` is more than `ttl`
    behind (or that does not parse) is dead and may be deleted.
    """
    totals: dict[int, int] = {}
    dead: list[str] = []
    for name, raw in fields.items():
        name = name.decode() if isinstance(name, bytes) else str(name)
        if name == exclude:
            continue
        try:
            value = json.loads(raw)
            until = float(value["until"])
            counts = {int(k): int(v) for k, v in value["counts"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            dead.append(name)
            continue
        if until <= now:
            if until <= now - ttl:
                dead.append(name)
            continue
        for session_id, count in counts.items():
            if count > 0:
                totals[session_id] = totals.get(session_id, 0) + count
    return totals, dead


@functools.cache
def _sync_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


def readers_now_many(
    session_ids: Iterable[int] | None = None, now: float | None = None
) -> dict[int, int]:
    """Readers following each session right now, across every worker (sync: for views).

    With Redis down, this process's own count: a figure low for a moment beats a 5xx.
    """
    totals = local_counts()
    if shared():
        try:
            fields = _sync_client(_redis_url()).hgetall(hash_key())
        except Exception:
            logger.warning("reading the audience from Redis failed", exc_info=True)
            fields = {}
        others, _ = live_totals(fields, time.time() if now is None else now, exclude=WORKER)
        for session_id, count in others.items():
            totals[session_id] = totals.get(session_id, 0) + count
    if session_ids is None:
        return totals
    return {session_id: totals.get(session_id, 0) for session_id in session_ids}


def readers_now(session_id: int, now: float | None = None) -> int:
    return readers_now_many([session_id], now)[session_id]


def minute_start(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now - now % 60, tz=dt.UTC)


def record_minute(minute: dt.datetime, samples: dict[int, tuple[int, int]]) -> None:
    """Write one minute's (readers, peak) per session; peak never goes down (see above)."""
    samples = {sid: sample for sid, sample in samples.items() if sample[1] > 0}
    if not samples:
        return
    existing = Session.objects.filter(pk__in=samples).values_list("pk", flat=True)
    for session_id in existing:
        readers, peak = samples[session_id]
        row = AudienceMinute.objects.filter(session_id=session_id, minute=minute)
        change = {"readers": readers, "peak": Greatest("peak", Value(peak))}
        if row.update(**change):
            continue
        try:
            with transaction.atomic():
                AudienceMinute.objects.create(
                    session_id=session_id, minute=minute, readers=readers, peak=peak
                )
        except IntegrityError:  # another worker wrote it first
            row.update(**change)


class MinuteHistory:
    """The current minute's samples, written when the minute is over."""

    def __init__(self) -> None:
        self.minute: float | None = None
        self.samples: dict[int, tuple[int, int]] = {}

    async def sample(self, now: float, totals: dict[int, int]) -> None:
        minute = now - now % 60
        if self.minute is not None and minute != self.minute:
            done, at = self.samples, minute_start(self.minute)
            self.samples = {}
            if done:
                try:
                    await database_sync_to_async(record_minute)(at, done)
                except Exception:
                    logger.exception("writing the audience of %s failed", at)
        self.minute = minute
        for session_id in set(self.samples) | {s for s, n in totals.items() if n > 0}:
            count = totals.get(session_id, 0)
            _, peak = self.samples.get(session_id, (0, 0))
            self.samples[session_id] = (count, max(peak, count))


class Audience:
    """One hub's round: publish, sum, tell each subscription's sockets, sample the history.

    `subscriptions` gives the hub's subscriptions (each with session_id and
    tell_readers(count)); `clock` is time.time unless a test injects its own.
    """

    def __init__(
        self,
        subscriptions: Callable[[], Iterable[Any]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.subscriptions = subscriptions
        self.clock = clock
        self.totals: dict[int, int] = {}
        self.history = MinuteHistory()
        self.published = False
        self.failing = False
        self._client: Any = None
        self.task: asyncio.Task[None] | None = None

    def start(self, every: float) -> None:
        if every > 0 and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(every))

    async def _run(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.tick()
            except Exception:
                logger.exception("the audience round failed")

    async def tick(self) -> dict[int, int]:
        now = self.clock()
        local = local_counts()
        totals = dict(local)
        if shared():
            for session_id, count in (await self._exchange(local, now)).items():
                totals[session_id] = totals.get(session_id, 0) + count
        self.totals = totals
        for subscription in list(self.subscriptions()):
            subscription.tell_readers(totals.get(subscription.session_id, 0))
        await self.history.sample(now, totals)
        return totals

    async def _exchange(self, local: dict[int, int], now: float) -> dict[int, int]:
        """Publish this process's counts and read the others' (one round trip)."""
        ttl = settings.AUDIENCE_TTL_SECONDS
        try:
            if self._client is None:
                import redis.asyncio

                self._client = redis.asyncio.Redis.from_url(
                    _redis_url(), socket_timeout=2.0, socket_connect_timeout=2.0
                )
            key = hash_key()
            async with self._client.pipeline(transaction=False) as pipe:
                if local:
                    pipe.hset(key, WORKER, encode_counts(local, now + ttl))
                    pipe.expire(key, HASH_EXPIRY_SECONDS)
                elif self.published:
                    pipe.hdel(key, WORKER)
                pipe.hgetall(key)
                results = await pipe.execute()
            self.published = bool(local)
            others, dead = live_totals(results[-1], now, exclude=WORKER, ttl=ttl)
            if dead:
                await self._client.hdel(key, *dead)
        except Exception:
            # Redis restarting: count this process's readers alone until it is back.
            if not self.failing:
                logger.warning("sharing the audience through Redis failed", exc_info=True)
            self.failing = True
            return {}
        self.failing = False
        return others
