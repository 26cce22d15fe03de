"""The export as Markdown, and as a static HTML site in a zip that opens offline."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

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
            .select_related("author", "attribution_speaker")
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


def to_markdown(event: Event, progress: Progress | None = None) -> str:
    return render_to_string(
        "archive/export/event.md", {"event": event, "sessions": _sessions(event, progress)}
    )


def to_html_zip(event: Event, progress: Progress | None = None) -> bytes:
    """index.html, one page per session and a stylesheet, linked relatively: no network."""
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
            archive.writestr(
                root + item["file"],
                render_to_string("archive/export/session.html", {"event": event, **item}),
            )
    return buffer.getvalue()


def minute_into(entry: Entry, session: Session) -> int:
    """The minute of the talk an entry was written in (0 before it started)."""
    return max(0, int((entry.created_at - session.starts_at).total_seconds() // 60))
