"""Run the clock: start and end the sessions that follow their schedule (entries.clock).

APScheduler runs the rounds: one every --interval seconds, never two at once, and a round
missed while the process was busy is run once, not many times over. A round that finds
nothing overdue does nothing; a clock that was down catches up on its first round.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from entries.clock import tick

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Start sessions that follow their schedule at their start and end them at their end, "
        "every --interval seconds until stopped (SIGTERM or Ctrl+C); --once for one round."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between rounds.")
        parser.add_argument("--once", action="store_true", help="One round, then exit.")

    def handle(self, *args, interval: float, once: bool, **options) -> None:
        if interval <= 0 or interval > 3600:
            raise CommandError("--interval must be more than 0 and at most 3600 seconds.")
        if once:
            self.report(tick())
            return
        scheduler = BlockingScheduler(timezone="UTC")
        scheduler.add_job(
            self.round,
            IntervalTrigger(seconds=interval, timezone="UTC"),
            id="clock",
            max_instances=1,  # never two rounds at once
            coalesce=True,  # rounds missed while busy run once
            misfire_grace_time=None,
            next_run_time=dt.datetime.now(dt.UTC),  # the first round at once: catch up
        )
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: scheduler.shutdown(wait=False))
        self.stdout.write(f"The clock is running, a round every {interval:g} s.")
        scheduler.start()

    def round(self) -> None:
        # A long-lived process: drop a connection the database closed meanwhile.
        close_old_connections()
        try:
            self.report(tick())
        except Exception:
            # The database restarting, say: the next round tries again.
            logger.exception("clock: the round failed")

    def report(self, done) -> None:
        for session in done.started:
            self.stdout.write(f"started: {session.event.slug}/{session.slug}")
        for session in done.ended:
            self.stdout.write(f"ended: {session.event.slug}/{session.slug}")
