"""The session page with 10,000 entries, and a catch-up of 500 changes, measured in process.

Run by bench/run.py in the bench's SQLite database (DEBUG off, collected static files, as
in production). Builds a session of 10,000 entries (every 500th a key moment), then times:
the first page of the session (Django test client, whole middleware stack), the
websocket's catch-up (CatchUp.load) of the last 500 changes, warm and cold (a worker
just started: fragments are stored with the entries, so neither renders one), and the API's GET of the
same 500; each with its query count. It prints JSON; run.py then times the
same catch-up over the wire through uvicorn and daphne.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import time

ENTRIES = 10_000
CATCH_UP = 500
REPEAT = 30


def timed(function, repeat: int = REPEAT, before=None) -> tuple[float, int]:
    """(p50 in ms, queries of one call), after two unmeasured calls; `before` is untimed."""
    from django.db import connection

    queries = []

    def counting(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    for _ in range(2):
        function()
    with connection.execute_wrapper(counting):
        if before:
            before()
        function()
    durations = []
    for _ in range(repeat):
        if before:
            before()
        started = time.perf_counter()
        function()
        durations.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(durations), 2), len(queries)


def build_session(entries: int, label: str):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from entries.markdown import render_markdown
    from entries.models import Entry
    from entries.signals import rerender
    from events.models import Event
    from sessions.models import Session

    author = get_user_model().objects.get(username="bench-blogger")
    event = Event.objects.get(slug="bench")
    now = timezone.now()
    session = Session.objects.create(
        event=event,
        title=f"Keynote with {entries} entries",
        slug=f"{label}-{entries}-{Session.objects.count() + 1}",
        starts_at=now,
        ends_at=now + dt.timedelta(hours=8),
        status=Session.Status.LIVE,
    )
    body = "Scott Gould on **trust**: communities form around shared intent. " * 4
    html = render_markdown(body)
    start = now - dt.timedelta(seconds=entries)
    Entry.objects.bulk_create(
        [
            Entry(
                session=session,
                author=author,
                body=body,
                html=html,
                key_moment=seq % 500 == 0,
                created_at=start + dt.timedelta(seconds=seq),
                updated_at=start + dt.timedelta(seconds=seq),
                created_seq=seq,
                seq=seq,
            )
            for seq in range(1, entries + 1)
        ],
        batch_size=1000,
    )
    Session.objects.filter(pk=session.pk).update(last_seq=entries)
    session.refresh_from_db()
    # Each entry's fragment stored with it, as the actions store it when it changes.
    rerender(session.entries.all())
    return session


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from entries.stream import CatchUp

    def fresh_worker() -> None:
        connection.close()  # a new database connection, as a restarted worker opens

    big = build_session(ENTRIES, "pages")
    small = build_session(100, "pages-small")
    client = Client(HTTP_HOST="127.0.0.1")

    def page(session):
        def get() -> None:
            response = client.get(session.get_absolute_url())
            assert response.status_code == 200, response.status_code

        return get

    page_ms, page_queries = timed(page(big))
    _, small_page_queries = timed(page(small), repeat=3)

    after = big.last_seq - CATCH_UP

    def catch_up() -> None:
        verdict, payloads, _ = CatchUp(big.pk, after).load()
        assert verdict == "ok" and len(payloads) == CATCH_UP, (verdict, len(payloads))

    catch_up_ms, catch_up_queries = timed(catch_up, repeat=10)
    # Cold: a worker that has rendered none of these fragments (this one never has: they
    # were stored with the entries), just started, with nothing of its own.
    cold_ms, cold_queries = timed(catch_up, repeat=5, before=fresh_worker)

    def api() -> None:
        response = client.get(f"/api/sessions/{big.pk}/entries?after={after}&limit={CATCH_UP}")
        assert response.status_code == 200 and len(response.json()["entries"]) == CATCH_UP

    api_ms, api_queries = timed(api, repeat=10)
    print(
        json.dumps(
            {
                "entries": ENTRIES,
                "session_id": big.pk,
                "catch_up_after": after,
                "catch_up_changes": CATCH_UP,
                "page_first_p50_ms": page_ms,
                "page_queries": page_queries,
                "page_queries_with_100_entries": small_page_queries,
                "catch_up_websocket_load_p50_ms": catch_up_ms,
                "catch_up_websocket_queries": catch_up_queries,
                "catch_up_websocket_cold_p50_ms": cold_ms,
                "catch_up_websocket_cold_queries": cold_queries,
                "catch_up_api_p50_ms": api_ms,
                "catch_up_api_queries": api_queries,
            }
        )
    )


if __name__ == "__main__":
    main()
