"""Everything that reaches readers in real time goes through this module.

It owns the group names, the message types and the on-commit scheduling: nothing else
calls group_send. A change is rendered and JSON-encoded here once, whatever the number
of readers, and sent as one group message; each process's hub (entries/hub.py) frames it
once and writes it to its readers. See docs/realtime.md.

Rendered entry fragments are also kept per process (FRAGMENTS), so a catch-up replays
recent changes without rendering them again for every reader who reconnects.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.template.loader import render_to_string

if TYPE_CHECKING:
    from entries.models import Entry
    from sessions.models import Session

logger = logging.getLogger(__name__)

# The channel-layer message type; each process's hub receives it.
STREAM_CHANGE = "stream.change"


# The message that closes a signed-out user's sockets.
USER_SIGNED_OUT = "user.signed_out"


def group_name(session_id: int) -> str:
    return f"session.{session_id}"


def sign_in_group_name(session_key: str) -> str:
    """The group of the sockets opened under one sign-in (one browser's session).

    Named by a hash of the session key: group names end up in Redis, and keys are secrets.
    """
    return "sign-in." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


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


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def entry_changed(entry: Entry, action: str) -> None:
    """Push an entry's change to its session's readers once the transaction commits."""
    _send_on_commit(entry.session_id, entry.seq, lambda: entry_payload(entry, action))


def session_status_changed(session: Session) -> None:
    _send_on_commit(session.pk, session.status_seq, lambda: status_payload(session))


def _send_on_commit(session_id: int, seq: int, build) -> None:
    def send() -> None:
        # Render after commit, once, so readers never see a change that was rolled back.
        message = {"type": STREAM_CHANGE, "seq": seq, "text": encode(build())}
        try:
            async_to_sync(get_channel_layer().group_send)(group_name(session_id), message)
        except Exception:
            # The change is saved; readers pick it up through catch-up on reconnect.
            logger.exception("broadcast of seq %s to session %s failed", seq, session_id)

    transaction.on_commit(send, robust=True)


def signed_out(session_key: str) -> None:
    """Close the sockets of a sign-in that has ended: Channels would keep its user on them.

    Call it once the session is flushed, or a page that reconnects at once could still find
    itself signed in.
    """
    try:
        async_to_sync(get_channel_layer().group_send)(
            sign_in_group_name(session_key), {"type": USER_SIGNED_OUT}
        )
    except Exception:
        # Signing out still works; the sockets are read-only and close with the page.
        logger.exception("closing the sockets of a sign-in failed")
