"""Everything that reaches readers in real time leaves through this module.

It owns the group names, the message types and the on-commit scheduling: nothing else
calls group_send, and only the stream's actions (entries/actions.py) call it. A change
arrives here already built and is JSON-encoded at once, inside the change's transaction,
so that two changes in one transaction go out as two frames, each with its own number and
its own state. It is sent once the transaction commits, as one group message whatever the
number of readers; each process's hub (realtime/hub.py) frames it once and writes it to
its readers. See docs/realtime.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

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


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def send_on_commit(session_id: int, seq: int, payload: dict[str, Any]) -> None:
    """Push one numbered change of a session's stream to its readers once it commits.

    Readers never see a change that was rolled back; a change whose broadcast fails is
    still saved, and readers pick it up through catch-up.
    """
    message = {"type": STREAM_CHANGE, "seq": seq, "text": encode(payload)}

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(group_name(session_id), message)
        except Exception:
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
