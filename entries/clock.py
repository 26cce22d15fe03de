"""Sessions that follow the clock: live at starts_at, ended at ends_at, by nobody.

`tick(now)` does one round and is all there is to test: it starts every session that
follows its schedule and whose start has passed (and end has not), and ends every one
whose end has passed, through entries.actions.set_session_status(by=None), so readers
see it like any status change. It acts on everything overdue, so a clock that was down
catches up when it comes back; a session whose whole slot passed meanwhile goes
straight from upcoming to ended.

Exactly once with several clocks: on PostgreSQL a tick runs under a transaction-level
advisory lock, and a clock that cannot take it skips the round; and each change is made
under the session's row lock by set_session_status, which does nothing to a session
already in that status. The `run_clock` command runs tick() every few seconds as its own
process (its own docker-compose service, docs/deploy.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from entries import actions
from sessions.models import Session

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock's key: "liveblog clock", any constant no other lock uses.
ADVISORY_LOCK_KEY = 0x6C62_636C_6F63_6B


@dataclass
class Tick:
    """What one round did: the sessions it started and ended, or that it ran at all."""

    ran: bool = True
    started: list[Session] = field(default_factory=list)
    ended: list[Session] = field(default_factory=list)


def _take_the_lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: one process, one clock
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def due(now: dt.datetime) -> tuple[list[Session], list[Session]]:
    """The sessions to start and to end at `now`."""
    follows = Session.objects.filter(follows_schedule=True).select_related("event")
    to_end = follows.exclude(status=Session.Status.ENDED).filter(ends_at__lte=now)
    to_start = follows.filter(status=Session.Status.UPCOMING, starts_at__lte=now, ends_at__gt=now)
    return list(to_start), list(to_end)


def tick(now: dt.datetime | None = None) -> Tick:
    """Start and end what is due at `now` (default: the time it is); see the module."""
    now = now or timezone.now()
    done = Tick()
    with transaction.atomic():
        if not _take_the_lock():
            return Tick(ran=False)  # another clock is on this round
        to_start, to_end = due(now)
        for session, status, changed in [
            *((s, Session.Status.LIVE, done.started) for s in to_start),
            *((s, Session.Status.ENDED, done.ended) for s in to_end),
        ]:
            try:
                if actions.set_session_status(session=session, status=status, by=None):
                    changed.append(session)
            except actions.StreamRefused as refusal:  # the rules changed under us
                logger.warning("clock: %s stays %s: %s", session.pk, session.status, refusal)
    for session in done.started:
        logger.info("clock: started session %s (%s)", session.pk, session)
    for session in done.ended:
        logger.info("clock: ended session %s (%s)", session.pk, session)
    return done
