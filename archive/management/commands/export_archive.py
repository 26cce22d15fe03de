"""python manage.py export_archive --event SLUG -o FILE [--format json|markdown|html]"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urljoin

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive import formats, portable
from events.models import Event


class Command(BaseCommand):
    help = (
        "Write an event's archive: JSON in the versioned schema (docs/archive.md) that "
        "import_archive reads back, Markdown, or a static HTML site in a zip. Hidden entries "
        "are left out."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--event", required=True, help="The event's slug.")
        parser.add_argument(
            "-o", "--output", required=True, help="The file to write ('-': stdout)."
        )
        parser.add_argument(
            "--format", choices=["json", "markdown", "html"], default="json", help="Default: json."
        )
        parser.add_argument(
            "--base-url",
            default="",
            help="For Markdown: the site's address (https://liveblog.example.com), to link "
            "photos by absolute URL; without it they link to the media URL as it is.",
        )

    def handle(self, *args, event: str, output: str, format: str, base_url: str, **options) -> None:
        found = Event.objects.filter(slug=event).first()
        if found is None:
            raise CommandError(f"No event with the slug {event!r}.")
        total = portable.count_entries(found)
        bar = tqdm(
            total=total,
            desc="Exporting",
            unit="entry",
            file=sys.stderr,
            disable=output == "-" or not self.stderr.isatty(),
        )
        try:
            if format == "json":
                data = portable.export_event(found, progress=bar.update)
                content = json.dumps(data, ensure_ascii=False, indent=1).encode() + b"\n"
            elif format == "markdown":
                content = formats.to_markdown(
                    found,
                    progress=bar.update,
                    absolute=(lambda url: urljoin(base_url, url)) if base_url else None,
                ).encode()
            else:
                content = formats.to_html_zip(found, progress=bar.update)
        finally:
            bar.close()
        if output == "-":
            sys.stdout.buffer.write(content)
            return
        try:
            Path(output).write_bytes(content)
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}") from None
        sessions = found.sessions.count()
        self.stderr.write(f"Wrote {found.slug} ({sessions} sessions, {total} entries) to {output}")
