"""Import a conference programme: python manage.py import_programme FILE --event SLUG."""

from __future__ import annotations

import sys
import zoneinfo
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug
from tqdm import tqdm

from events.models import Event
from programme.data import ProgrammeError
from programme.formats import MAX_BYTES, parse
from programme.importer import import_programme


class Command(BaseCommand):
    help = (
        "Import sessions and speakers from a frab schedule XML, pretalx schedule JSON,"
        " iCalendar or CSV file into an event (created when missing). See docs/programme.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the programme file; its format is read from its content")
        parser.add_argument("--event", required=True, help="the event's slug")
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="remove sessions gone from the file (never one that has entries)",
        )

    def handle(self, *args, file: str, event: str, dry_run: bool, prune: bool, **options):
        try:
            validate_slug(event)
        except ValidationError:
            raise CommandError(
                f"--event {event!r} is not a slug (letters, digits, - and _)"
            ) from None
        raw = _read(Path(file))
        existing = Event.objects.filter(slug=event).first()
        default_tz = zoneinfo.ZoneInfo(existing.time_zone) if existing else None
        try:
            programme = parse(raw, default_tz)
        except ProgrammeError as exc:
            raise CommandError(f"{file}: {exc}") from None

        bar = tqdm(
            total=len(programme.sessions),
            desc="Importing",
            unit="session",
            file=sys.stderr,
            disable=dry_run or not self.stdout.isatty(),
        )
        try:
            plan, result = import_programme(
                programme, event, prune=prune, dry_run=dry_run, progress=bar.update
            )
        except ProgrammeError as exc:
            raise CommandError(f"{file}: {exc}") from None
        finally:
            bar.close()

        for warning in programme.warnings:
            self.stderr.write(f"warning: {warning}")
        verb = "would import" if dry_run else "imported"
        created = " (new event)" if result.event_created else ""
        self.stdout.write(
            f"{programme.format}: {verb} {len(programme.sessions)} sessions into {event}{created}"
        )
        for change in plan.changed:
            self.stdout.write(f"  changed {change.session.slug}: {', '.join(change.fields)}")
        for session in plan.vanished:
            what = "removed" if prune else "gone from the file"
            if dry_run and prune:
                what = "would be removed"
            self.stdout.write(f"  {what}: {session.slug}")
        for session in plan.kept:
            self.stdout.write(f"  kept (it has entries): {session.slug}")
        prefix = "Dry run, nothing changed: " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(f"{prefix}{result.summary()}"))


def _read(path: Path) -> bytes:
    try:
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if path.stat().st_size > MAX_BYTES:
            raise CommandError(
                f"{path}: the file is too big ({path.stat().st_size:,} bytes; at most {MAX_BYTES:,})"
            )
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise CommandError(f"{path}: cannot read it ({exc.strerror})") from None
