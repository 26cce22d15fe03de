"""Everything that reaches readers in real time goes through this module.

It owns the group names, the message types and the on-commit scheduling: nothing else
calls group_send. A change is rendered and JSON-encoded here once, whatever the number
of readers; consumers forward the encoded text as it is. See docs/realtime.md.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.template.loader import render_to_string

if TYPE_CHECKING:
    from entries.models import Entry
    from sessions.models import Session

logger = logging.getLogger(__name__)

# The channel-layer message type; consumers handle it in `stream_change`.
STREAM_CHANGE = "stream.change"


def group_name(session_id: int) -> str:
    return f"session.{session_id}"


def entry_payload(entry: Entry, action: str) -> dict[str, Any]:
    """What a reader receives for one change to an entry (also used for catch-up)."""
    payload: dict[str, Any] = {
        "type": "entry",
        "action": action,
        "id": entry.pk,
        "seq": entry.seq,
        "key_moment": entry.key_moment and not entry.is_deleted,
    }
    if action != "deleted":
        payload["html"] = render_to_string("entries/partials/entry.html", {"entry": entry})
    return payload


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
