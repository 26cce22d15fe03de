"""What a session's stream says to readers: each change's payload, and the catch-up.

The actions (entries/actions.py) build a change's payload here, inside the change's
transaction, and hand it to realtime.broadcast. A reader who reconnects gets the same
payloads from CatchUp, through the socket (realtime/consumers.py).

Each entry's rendered fragment is stored with it (Entry.fragment) whenever it changes,
and again when a name it shows is changed (entries.signals), so a catch-up and the session
page read fragments and render no template, in whichever worker they run.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from entries.models import Entry
from sessions.models import Session


def render_fragment(entry: Entry) -> str:
    """The entry as readers see it, rendered from its state now (entries/partials/entry.html)."""
    return render_to_string("entries/partials/entry.html", {"entry": entry})


def store_fragment(entry: Entry) -> str:
    """Render the entry and store it with the entry: called by every change of it
    (entries.actions), in the change's transaction, so the stored fragment is its state."""
    entry.fragment = render_fragment(entry)
    Entry.objects.filter(pk=entry.pk).update(fragment=entry.fragment)
    return entry.fragment


def entry_html(entry: Entry) -> str:
    """The entry's fragment as readers see it: the stored one, rendered only if none is.

    One not stored yet (an entry loaded from an archive) is rendered and stored then,
    unless a change or a rename stored a newer one meanwhile.
    """
    if entry.fragment:
        return mark_safe(entry.fragment)  # rendered by our template, escaped there
    html = render_fragment(entry)
    Entry.objects.filter(pk=entry.pk, seq=entry.seq, fragment="").update(fragment=html)
    entry.fragment = html
    return html  # a SafeString, as render_to_string returns it


def change_payload(
    entry_id: int,
    seq: int,
    action: str,
    key_moment: bool,
    html: str | None,
    pinned: bool = False,
    featured: bool = False,
) -> dict[str, Any]:
    """What a reader receives for one change to an entry; no html for a deletion.

    `pinned`: the page shows it above the stream (at most one per session); `featured`:
    the event's front page shows it. Both false for a hidden entry.
    """
    payload: dict[str, Any] = {
        "type": "entry",
        "action": action,
        "id": entry_id,
        "seq": seq,
        "key_moment": key_moment,
        "pinned": pinned,
        "featured": featured,
    }
    if html is not None:
        payload["html"] = html
    return payload


def entry_payload(entry: Entry, action: str) -> dict[str, Any]:
    """What a reader receives for one change to an entry (also used for catch-up)."""
    html = None if action == "deleted" else entry_html(entry)
    shown = not entry.is_deleted
    return change_payload(
        entry.pk,
        entry.seq,
        action,
        entry.key_moment and shown,
        html,
        pinned=entry.pinned and shown,
        featured=entry.featured and shown,
    )


def status_payload(session: Session) -> dict[str, Any]:
    return {
        "type": "status",
        "status": session.status,
        "seq": session.status_seq,
        "html": render_to_string("sessions/partials/status.html", {"session": session}),
    }


# Entries read whole per query when their fragments are not stored (SQLite caps parameters).
UNSTORED_BATCH = 500


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

        One narrow query finds them, with their stored fragments; only entries with none
        stored yet are read whole and rendered. Those are read a moment later and may have
        changed again since: they keep the seq of the first read (the cursor is built from
        it), and the newer change reaches the reader live after its catch-up.
        """
        rows = (
            Entry.objects.filter(session_id=self.session_id, seq__gt=self.after)
            .order_by("seq")
            .values_list(
                "pk",
                "seq",
                "created_seq",
                "deleted_at",
                "key_moment",
                "pinned",
                "featured",
                "fragment",
            )
        )
        changes: list[tuple[int, dict[str, Any]]] = []
        unstored: dict[int, dict[str, Any]] = {}
        for pk, seq, created_seq, deleted_at, key_moment, pinned, featured, fragment in rows:
            if deleted_at is not None:
                if created_seq > self.after:
                    continue  # created and deleted while away: never shown, nothing to do
                payload = change_payload(pk, seq, Entry.Action.DELETED, False, None)
            else:
                action = Entry.Action.CREATED if created_seq > self.after else Entry.Action.UPDATED
                payload = change_payload(
                    pk, seq, action, key_moment, fragment or None, pinned, featured
                )
                if not fragment:
                    unstored[pk] = payload
            changes.append((seq, payload))
        ids = list(unstored)
        for start in range(0, len(ids), UNSTORED_BATCH):
            batch = ids[start : start + UNSTORED_BATCH]
            for entry in Entry.objects.filter(pk__in=batch).for_display():
                payload = unstored[entry.pk]
                if entry.is_deleted:
                    payload.update(
                        action=Entry.Action.DELETED, key_moment=False, pinned=False, featured=False
                    )
                    payload.pop("html", None)
                else:
                    payload.update(
                        key_moment=entry.key_moment,
                        pinned=entry.pinned,
                        featured=entry.featured,
                        html=entry_html(entry),
                    )
        return changes


def catch_up(session_id: int, after: int) -> tuple[str, list[dict[str, Any]], int] | None:
    """What the reader's socket replays (realtime.consumers takes it from liveblog.asgi)."""
    return CatchUp(session_id, after).load()
