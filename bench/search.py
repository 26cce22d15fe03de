"""Search over 100,000 entries: p50, p95 and p99 of archive.search on SQLite and PostgreSQL.

    python -m bench.search                 # both databases; writes bench/results/search.json
    python -m bench.search --only sqlite   # one of them

Each database is made fresh and migrated (SQLite in a temporary file; PostgreSQL as
BENCH_SEARCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/liveblog_bench_search,
dropped and created again), then filled with 100 sessions of 1,000 entries each, written
from a fixed 4,000-word vocabulary with Zipf-like frequencies (the seed is fixed, so both
databases hold the same text). The queries are the same on both: one and two words drawn
from the whole vocabulary (so common words that match tens of thousands of entries come
up as well as rare ones), some within a session, some for quotes only. Each is timed
(best of 3, so that a neighbour's burst on a shared machine is not counted as the query's
cost) through archive.search.search, as the page and the API call it: the match, the ranking,
loading the 20 hits and their snippets. bench/report.py turns the JSON into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bench" / "results" / "search.json"
ENTRIES = 100_000
SESSIONS = 100
QUERIES = 400
REPEAT = 3
VOCABULARY = 4_000
SEED = 15
SYLLABLES = [
    "ka", "lo", "mi", "ra", "ne", "so", "tu", "vi", "de", "pa", "gri", "sta",
    "bel", "mor", "tin", "quo", "zen", "lu", "fa", "shi", "wor", "ex", "pli", "cor",
]  # fmt: skip
# A few real words, so stemming is exercised as readers use it (at random frequencies).
REAL = [
    "workshop", "workshops", "social", "media", "community", "communities", "trust",
    "network", "networks", "thingification", "brand", "brands", "conversation", "listening",
    "platform", "platforms", "business", "immersive", "speaker", "hashtag", "audience",
]  # fmt: skip


def vocabulary(rng: random.Random) -> list[str]:
    words = list(REAL)
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    # The real words at random ranks: they show stemming, not the commonest words' cost.
    rng.shuffle(words)
    return words


def zipf_weights(count: int) -> list[float]:
    return [1 / (rank + 1) for rank in range(count)]


def fill(rng: random.Random, words: list[str]) -> list[int]:
    """The sessions and their entries; returns the sessions' ids."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from entries.models import Entry
    from events.models import Event
    from sessions.models import Session, Speaker

    author = get_user_model().objects.create_user("bench-search")
    event = Event.objects.create(
        name="Search bench", slug="search-bench", city="London", starts_on=dt.date(2026, 11, 23),
        ends_on=dt.date(2026, 11, 27),
    )  # fmt: skip
    weights = zipf_weights(len(words))
    start = timezone.now() - dt.timedelta(days=3)
    session_ids = []
    per_session = ENTRIES // SESSIONS
    bar = tqdm(total=ENTRIES, desc="entries", unit="entry", file=sys.stderr)
    for number in range(SESSIONS):
        title = " ".join(rng.choices(words, weights, k=4)).capitalize()
        session = Session.objects.create(
            event=event, title=title, slug=f"talk-{number}", description=title,
            starts_at=start, ends_at=start + dt.timedelta(hours=1),
        )  # fmt: skip
        speaker = Speaker.objects.create(name=f"Speaker {title}", slug=f"speaker-{number}")
        session.speakers.add(speaker)
        batch = []
        for seq in range(1, per_session + 1):
            body = " ".join(rng.choices(words, weights, k=rng.randint(8, 40))) + "."
            quote = seq % 4 == 0
            batch.append(
                Entry(
                    session=session,
                    author=author,
                    body=body,
                    html=f"<p>{body}</p>",
                    kind="quote" if quote else "text",
                    attribution_speaker=speaker if quote else None,
                    created_at=start + dt.timedelta(seconds=number * per_session + seq),
                    updated_at=start,
                    created_seq=seq,
                    seq=seq,
                )  # fmt: skip
            )
        Entry.objects.bulk_create(batch, batch_size=1000)
        Session.objects.filter(pk=session.pk).update(last_seq=per_session)
        session_ids.append(session.pk)
        bar.update(per_session)
    bar.close()
    return session_ids


def queries(rng: random.Random, words: list[str], session_ids: list[int]) -> list[dict]:
    """The same list for both databases: sessions by their position, not their id."""
    made = []
    for number in range(QUERIES):
        count = 1 if number % 3 else 2
        text = " ".join(rng.sample(words, count))
        query: dict = {"text": text}
        if number % 5 == 0:
            query["session"] = rng.randrange(len(session_ids))
        if number % 7 == 0:
            query["types"] = ["quote"]
        made.append(query)
    return made


def measure(label: str) -> dict:
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0)
    from archive import search

    rng = random.Random(SEED)
    words = vocabulary(rng)
    session_ids = fill(rng, words)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    planned = queries(random.Random(SEED + 1), words, session_ids)

    def run(query: dict) -> int:
        made = search.query_for(
            query["text"],
            session=session_ids[query["session"]] if "session" in query else None,
            types=query.get("types"),
        )
        hits, _ = search.search(made, limit=20)
        return len(hits)

    for query in planned[:20]:  # warm the caches
        run(query)
    durations, found = [], []
    for query in tqdm(planned, desc=f"queries ({label})", file=sys.stderr):
        # Best of REPEAT: on a shared machine a neighbour's burst is not the query's cost.
        times = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            hits = run(query)
            times.append((time.perf_counter() - started) * 1000)
        found.append(hits)
        durations.append(min(times))
    by_query = list(durations)
    durations.sort()

    def pct(p: float) -> float:
        return round(durations[min(len(durations) - 1, int(len(durations) * p))], 2)

    worst = max(range(len(planned)), key=lambda i: by_query[i])
    return {
        "database": label,
        "vendor": connection.vendor,
        "entries": ENTRIES,
        "queries": len(planned),
        "repeat": REPEAT,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(durations[-1], 2),
        "mean_hits": round(statistics.mean(found), 1),
        "empty_results": sum(1 for n in found if n == 0),
        "slowest_query": planned[worst]["text"],
    }


def child(label: str) -> None:
    """Runs in a process of its own, with DATABASE_URL set for it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
    print(json.dumps(measure(label)))


def recreate_postgres(url: str) -> str | None:
    try:
        import psycopg
    except ImportError as error:
        return f"missing {error.name}"
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        return f"PostgreSQL at {parts.hostname}:{parts.port}: {error}".strip()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description="Search benchmark (part of make bench).")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-bench-search-"))
    targets = {
        "sqlite": f"sqlite:///{workdir / 'search.sqlite3'}",
        "postgres": os.environ.get(
            "BENCH_SEARCH_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/liveblog_bench_search",
        ),
    }
    results, skipped = [], []
    for label, url in targets.items():
        if args.only and label != args.only:
            continue
        if label == "postgres" and (reason := recreate_postgres(url)):
            print(f"Skipping search on PostgreSQL: {reason}", file=sys.stderr)
            skipped.append({"target": "search-postgres", "reason": reason})
            continue
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CHANNEL_LAYER"}}
        env.update(
            DATABASE_URL=url, DEBUG="0", SECRET_KEY="bench-only", ALLOWED_HOSTS="127.0.0.1",
            DATABASE_POOL="0", LOG_LEVEL="WARNING",
        )  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "bench.search", "--child", label],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            skipped.append({"target": f"search-{label}", "reason": "the run failed"})
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["load_average"] = round(os.getloadavg()[0], 2)
        results.append(result)
        print(
            f"search {label:>8}: p50 {result['p50_ms']} ms  p95 {result['p95_ms']} ms  "
            f"p99 {result['p99_ms']} ms over {result['queries']} queries",
            file=sys.stderr,
        )
    OUTPUT.write_text(
        json.dumps(
            {
                "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "results": results,
                "skipped": skipped,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"Wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
