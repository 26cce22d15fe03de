"""The export as Markdown, and as a static HTML site in a zip that opens offline."""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable
from typing import Any

from django.core.files.storage import default_storage
from django.template.loader import render_to_string

from archive.models import Summary
from entries.models import Entry
from events.models import Event
from sessions.models import Session

Progress = Callable[[int], Any]


def _sessions(event: Event, progress: Progress | None) -> list[dict]:
    """Each session with its summary and visible entries in the order they were written."""
    summaries = {s.session_id: s for s in Summary.objects.filter(session__event=event)}
    sessions = []
    for session in event.sessions.prefetch_related("speakers").order_by("starts_at", "pk"):
        entries = list(
            session.entries.visible()
            .select_related("author", "attribution_speaker", "photo")
            .order_by("created_seq")
        )
        for entry in entries:
            entry.session = session
        if progress:
            progress(len(entries))
        sessions.append(
            {
                "session": session,
                "summary": summaries.get(session.pk),
                "entries": entries,
                "key_moments": [entry for entry in entries if entry.key_moment],
                "file": f"{session.slug}.html",
            }
        )
    return sessions


def _largest_jpeg(entry: Entry) -> dict:
    jpegs = [item for item in entry.photo.renditions if item["format"] == "jpeg"]
    return max(jpegs, key=lambda item: item["width"])


def to_markdown(
    event: Event, progress: Progress | None = None, absolute: Callable[[str], str] | None = None
) -> str:
    """The event as one Markdown file. A photo links its largest JPEG at its media URL,
    made absolute by `absolute` (the request's build_absolute_uri, or export_archive's
    --base-url): a single file has nowhere relative to point."""
    sessions = _sessions(event, progress)
    for item in sessions:
        for entry in item["entries"]:
            if entry.photo_id:
                url = default_storage.url(_largest_jpeg(entry)["name"])
                entry.photo_url = absolute(url) if absolute else url
    return render_to_string("archive/export/event.md", {"event": event, "sessions": sessions})


def _offline_name(item: dict) -> str:
    """Where a rendition goes in the zip, beside the pages: photos/<key>/<file>."""
    directory, file = posixpath.split(item["name"])
    return f"photos/{posixpath.basename(directory)}/{file}"


def _offline_photo(entry: Entry) -> dict:
    renditions = sorted(entry.photo.renditions, key=lambda item: item["width"])

    def srcset(format: str) -> str:
        return ", ".join(
            f"{_offline_name(item)} {item['width']}w"
            for item in renditions
            if item["format"] == format
        )

    return {
        "webp_srcset": srcset("webp"),
        "jpeg_srcset": srcset("jpeg"),
        "src": _offline_name(_largest_jpeg(entry)),
    }


def to_html_zip(event: Event, progress: Progress | None = None) -> bytes:
    """index.html, one page per session, a stylesheet and the photos' renditions, linked
    relatively: no network."""
    sessions = _sessions(event, progress)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        root = f"{event.slug}/"
        archive.writestr(
            root + "index.html",
            render_to_string("archive/export/index.html", {"event": event, "sessions": sessions}),
        )
        archive.writestr(root + "style.css", render_to_string("archive/export/style.css"))
        for item in sessions:
            for entry in item["entries"]:
                if not entry.photo_id:
                    continue
                entry.offline = _offline_photo(entry)
                for rendition in entry.photo.renditions:
                    with default_storage.open(rendition["name"], "rb") as file:
                        # Already compressed (JPEG, WebP): stored as they are.
                        archive.writestr(
                            root + _offline_name(rendition),
                            file.read(),
                            compress_type=zipfile.ZIP_STORED,
                        )
            archive.writestr(
                root + item["file"],
                render_to_string("archive/export/session.html", {"event": event, **item}),
            )
    return buffer.getvalue()


def minute_into(entry: Entry, session: Session) -> int:
    """The minute of the talk an entry was written in (0 before it started)."""
    return max(0, int((entry.created_at - session.starts_at).total_seconds() // 60))
