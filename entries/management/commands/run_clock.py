"""Run the clock: start and end the sessions that follow their schedule (entries.clock)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from entries.clock import tick


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
        stop = threading.Event()
        if not once:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            self.stdout.write(f"The clock is running, a round every {interval:g} s.")
        while True:
            if not once:
                # A long-lived process: drop a connection the database closed meanwhile.
                close_old_connections()
            done = tick()
            for session in done.started:
                self.stdout.write(f"started: {session.event.slug}/{session.slug}")
            for session in done.ended:
                self.stdout.write(f"ended: {session.event.slug}/{session.slug}")
            if once or stop.wait(interval):
                return
