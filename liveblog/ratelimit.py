"""Fixed-window rate limits kept in the cache (shared across workers with Redis)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache


class RateLimited(Exception):
    """Too many attempts: answer 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def hit(key: str, *, limit: int, window: int) -> None:
    """Count one attempt against `key`; raise RateLimited once over `limit` in the window."""
    now = time.time()
    bucket = int(now // window)
    cache_key = f"{settings.RATE_LIMIT_PREFIX}:{key}:{bucket}"
    cache.add(cache_key, 0, timeout=window + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 5)
        count = 1
    if count > limit:
        raise RateLimited(
            "Too many attempts: wait a moment and try again.",
            retry_after=int((bucket + 1) * window - now) + 1,
        )


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"
