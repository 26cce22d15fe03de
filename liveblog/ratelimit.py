"""Rate limits: fixed windows in the cache for requests (shared across workers with Redis),
and an in-process gate for websocket connections."""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


class RateLimited(Exception):
    """Too many attempts: answer 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def hit(
    key: str,
    *,
    limit: int,
    window: int,
    message: str = "Too many attempts: wait {retry_after} seconds and try again.",
) -> None:
    """Count one attempt against `key`; raise RateLimited once over `limit` in the window.

    `message` says what was limited, with {limit} and {retry_after} filled in.
    """
    now = time.time()
    bucket = int(now // window)
    cache_key = f"{settings.RATE_LIMIT_PREFIX}:{key}:{bucket}"
    try:
        cache.add(cache_key, 0, timeout=window + 5)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=window + 5)
            count = 1
    except Exception:
        # The counters live in the cache (Redis in production). While it is down nothing
        # is counted: a blogger's post must not fail because a limit could not be read.
        logger.warning("rate limit %s not counted: the cache is unreachable", key, exc_info=True)
        return
    if count > limit:
        retry_after = int((bucket + 1) * window - now) + 1
        raise RateLimited(
            message.format(limit=limit, retry_after=retry_after), retry_after=retry_after
        )


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


class ConnectionGate:
    """Admission of long-lived connections per client address, within one process.

    At most `concurrent` open at once from an address, and new ones at `rate` per second
    after a burst of `burst` (a token bucket). It counts in memory, with no cache round
    trip, so a reconnect storm costs nothing extra per handshake; each worker process keeps
    its own count. A limit of 0 turns that check off.
    """

    # Forget the buckets of idle addresses once this many are known.
    PRUNE_AT = 10_000
    # What to tell a client turned away because its address has too many open: some of
    # them have to close first, which no one can foresee.
    FULL_RETRY_SECONDS = 10

    def __init__(self, *, concurrent: int, rate: float, burst: int, clock=time.monotonic) -> None:
        self.concurrent = concurrent
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.open: dict[str, int] = {}
        self.buckets: dict[str, tuple[float, float]] = {}  # address: (tokens, as of when)

    def admit(self, address: str) -> int | None:
        """Count a new connection from `address`; None if admitted, else seconds to wait."""
        if self.concurrent and self.open.get(address, 0) >= self.concurrent:
            return self.FULL_RETRY_SECONDS
        if self.rate and self.burst:
            now = self.clock()
            tokens, then = self.buckets.get(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens < 1:
                self.buckets[address] = (tokens, now)
                return max(1, math.ceil((1 - tokens) / self.rate))
            if len(self.buckets) >= self.PRUNE_AT:
                self._prune(now)
            self.buckets[address] = (tokens - 1, now)
        self.open[address] = self.open.get(address, 0) + 1
        return None

    def release(self, address: str) -> None:
        """A connection that admit() let in has closed."""
        left = self.open.get(address, 0) - 1
        if left > 0:
            self.open[address] = left
        else:
            self.open.pop(address, None)

    def _prune(self, now: float) -> None:
        full = [
            address
            for address, (tokens, then) in self.buckets.items()
            if tokens + (now - then) * self.rate >= self.burst
        ]
        for address in full:
            del self.buckets[address]
