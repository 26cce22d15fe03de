"""What a session's stream says to readers: each change's payload, and the catch-up.

The actions (entries/actions.py) build a change's payload here, inside the change's
transaction, and hand it to realtime.broadcast. A reader who reconnects gets the same
payloads from CatchUp, through the socket (realtime/consumers.py).

Rendered entry fragments are also kept per process (FRAGMENTS), so a catch-up replays
recent changes, and the session page shows its entries, without rendering them again.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from entries.models import Entry
from sessions.models import Session


class FragmentCache:
    """Rendered entry fragments, newest kept, each for at most `ttl` seconds.

    An entry's own changes all move seq and updated_at, so (id, seq, updated_at) names one
    rendering; updated_at also keeps apart the entries of databases that reuse ids (test
    runs). A fragment also shows names kept elsewhere (the author's, the speaker's, the
    event's time zone): the time limit bounds how long a change to those goes unseen.
    Request threads and the event loop's database thread share it, hence the lock.
    """

    def __init__(self, size: int, ttl: float = 60.0) -> None:
        self.size = size
        self.ttl = ttl
        self.items: OrderedDict[tuple[int, int, dt.datetime], tuple[str, float]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[int, int, dt.datetime]) -> str | None:
        with self.lock:
            item = self.items.get(key)
            if item is None:
                return None
            if item[1] <= time.monotonic():
                del self.items[key]
                return None
            self.items.move_to_end(key)
            return item[0]

    def put(self, key: tuple[int, int, dt.datetime], html: str) -> None:
        with self.lock:
            self.items[key] = (html, time.monotonic() + self.ttl)
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


# About 1.5 KB each: a few megabytes per process, room for several sessions' catch-ups.
FRAGMENTS = FragmentCache(4096)


def fragment_key(entry_id: int, seq: int, updated_at: dt.datetime) -> tuple[int, int, dt.datetime]:
    return (entry_id, seq, updated_at)


def entry_html(entry: Entry) -> str:
    """The entry's fragment as readers see it, rendered once per state per process."""
    key = fragment_key(entry.pk, entry.seq, entry.updated_at)
    html = FRAGMENTS.get(key)
    if html is None:
        html = render_to_string("entries/partials/entry.html", {"entry": entry})
        FRAGMENTS.put(key, html)
    return html


def change_payload(
    entry_id: int, seq: int, action: str, key_moment: bool, html: str | None
) -> dict[str, Any]:
    """What a reader receives for one change to an entry; no html for a deletion."""
    payload: dict[str, Any] = {
        "type": "entry",
        "action": action,
        "id": entry_id,
        "seq": seq,
        "key_moment": key_moment,
    }
    if html is not None:
        payload["html"] = html
    return payload


def entry_payload(entry: Entry, action: str) -> dict[str, Any]:
    """What a reader receives for one change to an entry (also used for catch-up)."""
    html = None if action == "deleted" else entry_html(entry)
    return change_payload(
        entry.pk, entry.seq, action, entry.key_moment and not entry.is_deleted, html
    )


def status_payload(session: Session) -> dict[str, Any]:
    return {
        "type": "status",
        "status": session.status,
        "seq": session.status_seq,
        "html": render_to_string("sessions/partials/status.html", {"session": session}),
    }


# Entries read whole per query when their fragments are not cached (SQLite caps parameters).
UNCACHED_BATCH = 500


class CatchUp:
    """What a reader who has applied every change up to `after` still needs."""

    def __init__(self, session_id: int, after: int) -> None:
        self.session_id = session_id
        self.after = after

    def load(self) -> tuple[str, list[dict[str, Any]], int] | None:
        """Return (verdict, payloads, cursor); None when the session does not exist.

        last_seq is read before the entries: every change numbered up to it has committed
        (numbers are taken under the session's lock), so the entries query sees them all.
        """
        session = Session.objects.filter(pk=self.session_id).first()
        if session is None:
            return None
        last_seq = session.last_seq
        if self.after > last_seq or last_seq - self.after > settings.CATCHUP_MAX_CHANGES:
            return "reload", [], last_seq
        changes: list[tuple[int, dict[str, Any]]] = []
        if self.after < last_seq:
            changes = self._entry_changes()
            if session.status_seq > self.after:
                changes.append((session.status_seq, status_payload(session)))
        changes.sort(key=lambda change: change[0])
        cursor = max([last_seq, *(seq for seq, _ in changes)])
        return "ok", [payload for _, payload in changes], cursor

    def _entry_changes(self) -> list[tuple[int, dict[str, Any]]]:
        """One (seq, payload) per entry changed after `after`, in its state now.

        One narrow query finds them; fragments come from this process's cache, and only
        entries not in it are read whole and rendered. Those are read a moment later and
        may have changed again since: they keep the seq of the first read (the cursor is
        built from it), and the newer change reaches the reader live after its catch-up.
        """
        rows = (
            Entry.objects.filter(session_id=self.session_id, seq__gt=self.after)
            .order_by("seq")
            .values_list("pk", "seq", "created_seq", "updated_at", "deleted_at", "key_moment")
        )
        changes: list[tuple[int, dict[str, Any]]] = []
        uncached: dict[int, dict[str, Any]] = {}
        for pk, seq, created_seq, updated_at, deleted_at, key_moment in rows:
            if deleted_at is not None:
                if created_seq > self.after:
                    continue  # created and deleted while away: never shown, nothing to do
                payload = change_payload(pk, seq, Entry.Action.DELETED, False, None)
            else:
                action = Entry.Action.CREATED if created_seq > self.after else Entry.Action.UPDATED
                html = FRAGMENTS.get(fragment_key(pk, seq, updated_at))
                payload = change_payload(pk, seq, action, key_moment, html)
                if html is None:
                    uncached[pk] = payload
            changes.append((seq, payload))
        ids = list(uncached)
        for start in range(0, len(ids), UNCACHED_BATCH):
            batch = ids[start : start + UNCACHED_BATCH]
            for entry in Entry.objects.filter(pk__in=batch).for_display():
                payload = uncached[entry.pk]
                if entry.is_deleted:
                    payload.update(action=Entry.Action.DELETED, key_moment=False)
                else:
                    payload.update(key_moment=entry.key_moment, html=entry_html(entry))
        return changes


def catch_up(session_id: int, after: int) -> tuple[str, list[dict[str, Any]], int] | None:
    """What the reader's socket replays (realtime.consumers takes it from liveblog.asgi)."""
    return CatchUp(session_id, after).load()
