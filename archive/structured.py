"""What search engines and link previews read: schema.org LiveBlogPosting as JSON-LD."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from django.utils.safestring import SafeString, mark_safe

from archive.feeds import entry_title
from entries.markdown import plain_text
from entries.models import Entry
from sessions.models import Session

# As django.utils.html.json_script: nothing in the data can close the script element.
_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def plain(html: str) -> str:
    return plain_text(html)


def live_blog_posting(
    session: Session, entries: Iterable[Entry], absolute: Callable[[str], str]
) -> dict:
    event = session.event
    data = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "@id": absolute(session.get_absolute_url()),
        "url": absolute(session.get_absolute_url()),
        "headline": session.title,
        "description": session.description or f"Live coverage of {session.title}, {event.name}.",
        "coverageStartTime": session.starts_at.isoformat(),
        "about": {
            "@type": "Event",
            "name": session.title,
            "startDate": session.starts_at.isoformat(),
            "endDate": session.ends_at.isoformat(),
            "location": {
                "@type": "Place",
                "name": session.room or event.city,
                "address": event.city,
            },
            "superEvent": {
                "@type": "Event",
                "name": event.name,
                "url": absolute(event.get_absolute_url()),
                "startDate": event.starts_on.isoformat(),
                "endDate": event.ends_on.isoformat(),
            },
            "performer": [
                {
                    "@type": "Person",
                    "name": speaker.name,
                    "url": absolute(speaker.get_absolute_url()),
                }
                for speaker in session.speakers.all()
            ],
        },
        "liveBlogUpdate": [
            {
                "@type": "BlogPosting",
                "headline": entry_title(entry),
                "articleBody": plain(entry.html),
                "datePublished": entry.created_at.isoformat(),
                "dateModified": entry.updated_at.isoformat(),
                "url": absolute(entry.get_absolute_url()),
                "author": {
                    "@type": "Person",
                    "name": entry.author.get_full_name() or entry.author.get_username(),
                },
            }
            for entry in entries
        ],
    }
    if session.status == Session.Status.ENDED:
        data["coverageEndTime"] = (session.ended_at or session.ends_at).isoformat()
    return data


def json_ld(data: dict) -> SafeString:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_JSON_ESCAPES)
    return mark_safe(f'<script type="application/ld+json">{text}</script>')
