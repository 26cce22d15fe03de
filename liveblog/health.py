"""/healthz: does this worker reach its database, its channel layer and its cache?

503 when the database fails (the worker is useless); 200 "degraded", naming what fails,
when only Redis's parts do (pages and posts still work; readers catch up afterwards).

The proxy and the container runtime ask it every few seconds, so each check is cheap and
bounded by a timeout: a hung dependency answers 503 quickly instead of hanging the probe.
`python -m liveblog.health` asks the local worker, for container health checks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import urllib.error
import urllib.request
import uuid
import weakref

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("SELECT 1 did not answer 1")


def _check_cache() -> None:
    """The cache holds the rate limits (Redis in production): write and read one key."""
    key = "healthz:" + uuid.uuid4().hex
    cache.set(key, 1, timeout=10)
    if cache.get(key) != 1:
        raise RuntimeError("the cache did not keep a value")
    cache.delete(key)


# The worker's own channel for the check, made once per event loop (one in a server): with
# the Redis pub/sub layer every new channel is a subscription that lasts as long as the
# process, so a fresh one per check piled up thousands a day, each subscribed again
# whenever Redis restarted.
_health_channels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, str] = (
    weakref.WeakKeyDictionary()
)


async def _check_channel_layer() -> None:
    """Send a message to this worker's own channel on its layer and read it back."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    loop = asyncio.get_running_loop()
    channel = _health_channels.get(loop)
    if channel is None:
        channel = _health_channels[loop] = await layer.new_channel("healthz.")
    nonce = uuid.uuid4().hex
    try:
        await layer.send(channel, {"type": "healthz.ping", "nonce": nonce})
        while True:  # a ping left over from a check that timed out may come first
            message = await layer.receive(channel)
            if message.get("type") != "healthz.ping":
                raise RuntimeError("the channel layer returned another message")
            if message.get("nonce") == nonce:
                return
    except BaseException:
        # The pub/sub layer unsubscribes a channel whose receive was cancelled (a check that
        # timed out): the next check makes a new one rather than send to nothing.
        _health_channels.pop(loop, None)
        raise


async def _run(name: str, check) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except TimeoutError:
        logger.error("health check %s timed out after %ss", name, CHECK_TIMEOUT_SECONDS)
        return f"timed out after {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as error:
        logger.exception("health check %s failed", name)
        # The class names what failed without echoing connection strings to the caller.
        return f"failed: {type(error).__name__}"
    return "ok"


@never_cache
@require_safe
async def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": await _run("database", sync_to_async(_check_database)),
        "channel_layer": await _run("channel_layer", _check_channel_layer),
        "cache": await _run("cache", sync_to_async(_check_cache)),
    }
    # Without its database a worker can do nothing: 503, and the proxy sends no one to it.
    # Without Redis (the channel layer, the cache) it still serves pages and takes posts,
    # which readers catch up on once the layer is back: "degraded", still 200, so that a
    # Redis restart does not take every worker out of the proxy at once.
    if checks["database"] != "ok":
        status, code = "failing", 503
    elif all(result == "ok" for result in checks.values()):
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    return JsonResponse({"status": status, "checks": checks}, status=code)


# Mounted by liveblog/urls.py as path("healthz", include("liveblog.health")).
urlpatterns = [path("", healthz, name="healthz")]


def probe(port: int, host_header: str, timeout: float = 5.0) -> bool:
    """Ask the worker on 127.0.0.1:port for /healthz; True when it answers 200."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": host_header}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError) as error:
        print(f"healthz: {error}", file=sys.stderr)
        return False


def _first_concrete_host(allowed_hosts: str) -> str:
    """The first ALLOWED_HOSTS entry that can stand as a Host header (not * or .domain)."""
    for host in allowed_hosts.split(","):
        host = host.strip()
        if host and host != "*" and not host.startswith("."):
            return host
    return "localhost"


if __name__ == "__main__":
    port = int(os.environ.get("PORT") or 8000)
    host = _first_concrete_host(os.environ.get("ALLOWED_HOSTS", ""))
    sys.exit(0 if probe(port, host) else 1)
