"""python manage.py import_archive FILE [--slug NEW]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive import portable


class Command(BaseCommand):
    help = (
        "Load an event's archive written by export_archive (JSON, docs/archive.md) into this "
        "installation, all or nothing. The event must not be here already."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The archive's JSON file.")
        parser.add_argument("--slug", help="Import the event under another slug.")

    def handle(self, *args, file: str, slug: str | None, **options) -> None:
        try:
            data = json.loads(Path(file).read_bytes())
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise CommandError(f"{file} is not JSON: {error}") from None
        total = portable.entries_in(data)
        bar = tqdm(
            total=total,
            desc="Importing",
            unit="entry",
            file=sys.stderr,
            disable=not self.stderr.isatty(),
        )
        try:
            event = portable.import_event(data, slug=slug, progress=bar.update)
        except portable.ArchiveError as error:
            raise CommandError(f"{file}: {error}") from None
        finally:
            bar.close()
        self.stdout.write(
            f"Imported {event.slug}: {event.sessions.count()} sessions, {total} entries"
        )
