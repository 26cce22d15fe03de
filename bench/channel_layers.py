"""RedisChannelLayer against RedisPubSubChannelLayer: one session, many readers.

Each reader of a live session is one channel in the session's group, and posting an entry
is one group_send. This starts WORKERS receiver processes (standing in for daphne workers),
each holding its share of the readers, sends ROUNDS messages from a separate sender layer,
and measures, per layer and reader count:

- join: time for a worker to group_add all of its readers (a reconnect storm after a deploy);
- send: how long the group_send call itself takes on the posting worker;
- delivery: from just before group_send until the last reader on every worker has it;
- receiver CPU per round (one message and the 50 ms idle after it), summed over the workers.

    .venv/bin/python bench/channel_layers.py            # writes bench/results/channel_layers.json
    .venv/bin/python bench/channel_layers.py --readers 100,500 --rounds 10 --out -

With the fan-out hub (entries/hub.py) a group has one member per worker process: the
two-member case is production's; the larger ones show what a channel per reader costs.

Needs a Redis server (REDIS_URL, default redis://127.0.0.1:6379/4); it only touches keys
under a random prefix and flushes them when done.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
import uuid
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

LAYERS = {
    "RedisChannelLayer": "channels_redis.core.RedisChannelLayer",
    "RedisPubSubChannelLayer": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
GROUP = "session.1"
WARMUP_ROUNDS = 3  # first messages open connections and start receive loops: not counted
STEP_TIMEOUT = 60.0  # every wait is bounded: a lost message fails the run instead of hanging it
# A typical pushed change: one rendered entry, JSON-encoded once by entries/broadcast.py.
PAYLOAD = json.dumps(
    {
        "type": "entry",
        "action": "created",
        "id": 4242,
        "seq": 1,
        "key_moment": False,
        "html": '<article id="entry-4242" class="entry entry--quote" data-seq="1">'
        + "<blockquote><p>"
        + "We're turning social media into a thing: the thingification of social media. " * 10
        + "</p></blockquote><footer>Euan Semple</footer></article>",
    },
    separators=(",", ":"),
)


def make_layer(backend: str, redis_url: str, prefix: str):
    module_name, class_name = LAYERS[backend].rsplit(".", 1)
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name)(hosts=[redis_url], prefix=prefix)


def receiver(backend: str, redis_url: str, prefix: str, readers: int, rounds: int, conn) -> None:
    """One worker process: `readers` channels in the group, each reading `rounds` messages."""
    asyncio.run(_receive(backend, redis_url, prefix, readers, rounds, conn))


async def _receive(
    backend: str, redis_url: str, prefix: str, readers: int, rounds: int, conn: Connection
) -> None:
    layer = make_layer(backend, redis_url, prefix)
    channels = [await layer.new_channel() for _ in range(readers)]
    started = time.perf_counter()
    for channel in channels:
        await layer.group_add(GROUP, channel)
    join_seconds = time.perf_counter() - started

    received: dict[int, int] = {}
    last_at: dict[int, float] = {}

    async def read(channel: str) -> None:
        for _ in range(rounds):
            message = await layer.receive(channel)
            now = time.monotonic()
            number = message["round"]
            received[number] = received.get(number, 0) + 1
            if received[number] == readers:
                last_at[number] = now
                conn.send(("done", number, now, time.process_time()))

    tasks = [asyncio.create_task(read(channel)) for channel in channels]
    conn.send(("ready", join_seconds, time.process_time()))
    try:
        async with asyncio.timeout(STEP_TIMEOUT * (rounds + 1)):
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for channel in channels:
            await layer.group_discard(GROUP, channel)
        await layer.flush()
        conn.close()


def _wait(conns: list[Connection], kind: str, number: int | None = None) -> list[tuple]:
    """One message of `kind` from every receiver, within STEP_TIMEOUT."""
    replies = []
    deadline = time.monotonic() + STEP_TIMEOUT
    for conn in conns:
        if not conn.poll(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"a receiver sent no {kind!r} within {STEP_TIMEOUT}s")
        reply = conn.recv()
        if reply[0] != kind or (number is not None and reply[1] != number):
            raise RuntimeError(f"expected {kind} {number}, got {reply}")
        replies.append(reply)
    return replies


async def measure(
    backend: str, redis_url: str, readers: int, workers: int, rounds: int
) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("spawn")
    pipes = [context.Pipe(duplex=False) for _ in range(workers)]
    share = [readers // workers + (1 if i < readers % workers else 0) for i in range(workers)]
    processes = [
        context.Process(
            target=receiver, args=(backend, redis_url, prefix, share[i], rounds, pipes[i][1])
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    conns = [reader_end for reader_end, _ in pipes]
    sender = make_layer(backend, redis_url, prefix)
    try:
        ready = await asyncio.to_thread(_wait, conns, "ready")
        cpu_before = [reply[2] for reply in ready]
        sends, deliveries = [], []
        cpu_after = cpu_before
        for number in range(rounds):
            if number == WARMUP_ROUNDS:
                sends, deliveries = [], []
                cpu_before = cpu_after
            await asyncio.sleep(0.05)  # let the workers go idle, as between two posts
            started = time.monotonic()
            await sender.group_send(
                GROUP, {"type": "stream.change", "round": number, "text": PAYLOAD}
            )
            sends.append(time.monotonic() - started)
            done = await asyncio.to_thread(_wait, conns, "done", number)
            deliveries.append(max(reply[2] for reply in done) - started)
            cpu_after = [reply[3] for reply in done]
    finally:
        await sender.flush()
        for process in processes:
            process.join(timeout=STEP_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    counted = rounds - WARMUP_ROUNDS
    cpu_per_round = sum(after - before for before, after in zip(cpu_before, cpu_after, strict=True))
    return {
        "layer": backend,
        "readers": readers,
        "workers": workers,
        "rounds_counted": counted,
        "join_ms_max_per_worker": round(max(reply[1] for reply in ready) * 1000, 1),
        "send_ms_median": _ms(statistics.median(sends)),
        "delivery_ms_median": _ms(statistics.median(deliveries)),
        "delivery_ms_p90": _ms(_quantile(deliveries, 0.9)),
        "delivery_ms_max": _ms(max(deliveries)),
        "receiver_cpu_ms_per_round": _ms(cpu_per_round / counted),
    }


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _redis_version(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return client.info("server")["redis_version"]
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/4"))
    parser.add_argument("--readers", default="2,100,500,1000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=33)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results/channel_layers.json"))
    args = parser.parse_args()
    if args.rounds <= WARMUP_ROUNDS:
        parser.error(f"--rounds must be more than the {WARMUP_ROUNDS} warm-up rounds")

    results = []
    for readers in [int(n) for n in args.readers.split(",")]:
        for backend in LAYERS:
            result = asyncio.run(measure(backend, args.redis, readers, args.workers, args.rounds))
            print(json.dumps(result), file=sys.stderr)
            results.append(result)
    report = {
        "what": "one group (a live session), N readers spread over worker processes, "
        "one group_send per round; times from just before group_send",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "redis": _redis_version(args.redis),
            "channels_redis": version("channels_redis"),
            "redis_py": version("redis"),
        },
        "payload_bytes": len(PAYLOAD),
        "results": results,
    }
    text = json.dumps(report, indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
