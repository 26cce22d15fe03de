"""The entries an event's organisers featured (entries.actions.feature_entry), for the
event's front page (templates/events/detail.html): events may not import entries, so the
page asks through this tag."""

from __future__ import annotations

from django import template

from entries import stream
from entries.models import Entry

register = template.Library()

FEATURED_MAX = 12


@register.simple_tag
def featured_entries(event) -> list[tuple[Entry, str]]:
    """(entry, its fragment as readers see it), newest first; hidden ones left out."""
    entries = (
        Entry.objects.visible()
        .filter(session__event=event, featured=True)
        .for_display()
        .newest_first()[:FEATURED_MAX]
    )
    return [(entry, stream.entry_html(entry)) for entry in entries]
