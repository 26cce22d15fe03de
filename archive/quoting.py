"""'Quote this': an entry as a ready-to-paste blockquote, in HTML and in Markdown."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.utils.dateformat import format as date_format
from django.utils.html import escape

from entries.models import Entry


def who(entry: Entry) -> str:
    """Who said the words: the quoted person, or for a blogger's own update, the blogger."""
    if entry.kind == Entry.Kind.QUOTE:
        return entry.attribution
    return entry.author.get_full_name() or entry.author.get_username()


def when(entry: Entry) -> str:
    zone = zoneinfo.ZoneInfo(entry.session.event.time_zone)
    return date_format(entry.created_at.astimezone(zone), "j F Y, H:i T")


def quote_blocks(entry: Entry, absolute: Callable[[str], str]) -> dict[str, str]:
    session = entry.session
    permalink = absolute(entry.get_absolute_url())
    session_url = absolute(session.get_absolute_url())
    words = entry.plain_text
    source = f"{session.title}, {session.event.name}"
    html = (
        f'<blockquote cite="{escape(permalink)}">\n'
        f"  <p>{escape(words)}</p>\n"
        f'  <footer>— {escape(who(entry))}, in <a href="{escape(session_url)}">'
        f"{escape(session.title)}</a>, {escape(session.event.name)}, {escape(when(entry))}. "
        f'<a href="{escape(permalink)}">Source</a></footer>\n'
        "</blockquote>"
    )
    quoted = "\n".join(f"> {_md(line)}" if line else ">" for line in words.splitlines() or [""])
    markdown = (
        f"{quoted}\n>\n> — {_md(who(entry))}, in [{_md(source)}]({session_url}), "
        f"{when(entry)} ([source]({permalink}))"
    )
    return {"html": html, "markdown": markdown, "words": words, "who": who(entry)}


def _md(text: str) -> str:
    """Text that Markdown shows as written: its link, emphasis and HTML characters escaped."""
    for char in "\\[]*_`<":
        text = text.replace(char, "\\" + char)
    return text
