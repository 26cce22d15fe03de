"""Atom feeds (django.contrib.syndication): the newest entries of a session, an event, a
speaker, a series or a tag.

Each feed is one line in FEEDS: a name, how its URL finds the object, and which entries it
carries. archive/urls.py makes the URLs from FEEDS, and `{% feed_link obj %}` (the archive
template tags) links a page to its feed with <link rel="alternate">. A tag is its name, a
str, as its page knows it (entries.hashtags.normalise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.syndication.views import Feed
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.feedgenerator import Atom1Feed
from django.utils.text import Truncator

from entries.hashtags import TAG_WORD, normalise, tag_path, tagged
from entries.models import Entry
from events.models import Event, Series
from sessions.models import Session, Speaker

FEED_LENGTH = 50


@dataclass(frozen=True)
class FeedKind:
    name: str  # the URL name: archive:<name>_feed
    route: str  # under /feeds/
    model: type
    find: Callable[..., Any]  # URL kwargs -> the object
    url_kwargs: Callable[[Any], dict]  # the object -> URL kwargs
    entries: Callable[[Any], Q]  # the object -> which entries
    title: Callable[[Any], str]
    link: Callable[[Any], str] = lambda obj: obj.get_absolute_url()  # the object's page


def _tag(tag: str) -> str:
    if not TAG_WORD.match(tag):
        raise Http404("A tag is one word of letters, digits or underscores.")
    return normalise(tag)


FEEDS = [
    FeedKind(
        "session",
        "events/<slug:event>/<slug:slug>/",
        Session,
        lambda event, slug: get_object_or_404(
            Session.objects.select_related("event"), event__slug=event, slug=slug
        ),
        lambda s: {"event": s.event.slug, "slug": s.slug},
        lambda s: Q(session=s),
        lambda s: f"{s.title} · {s.event.name}",
    ),
    FeedKind(
        "event",
        "events/<slug:slug>/",
        Event,
        lambda slug: get_object_or_404(Event, slug=slug),
        lambda e: {"slug": e.slug},
        lambda e: Q(session__event=e),
        lambda e: e.name,
    ),
    FeedKind(
        "speaker",
        "speakers/<slug:slug>/",
        Speaker,
        lambda slug: get_object_or_404(Speaker, slug=slug),
        lambda s: {"slug": s.slug},
        lambda s: Q(attribution_speaker=s),
        lambda s: f"Quotes from {s.name}",
    ),
    FeedKind(
        "series",
        "series/<slug:slug>/",
        Series,
        lambda slug: get_object_or_404(Series, slug=slug),
        lambda s: {"slug": s.slug},
        lambda s: Q(session__event__series=s),
        lambda s: s.name,
    ),
    FeedKind(
        "tag",
        "tags/<str:tag>/",
        str,
        lambda tag: _tag(tag),
        lambda t: {"tag": t},
        tagged,
        lambda t: f"#{t}",
        tag_path,
    ),
]
BY_MODEL = {kind.model: kind for kind in FEEDS}


def entry_title(entry: Entry) -> str:
    words = Truncator(entry.plain_text).words(12, truncate="…")
    if entry.kind == Entry.Kind.QUOTE:
        return f"{entry.attribution}: “{words}”"
    if entry.kind == Entry.Kind.QUESTION:
        return f"{entry.attribution} asks: “{words}”"
    return words


class EntriesFeed(Feed):
    feed_type = Atom1Feed
    kind: FeedKind

    def get_object(self, request, **kwargs):
        return self.kind.find(**kwargs)

    def title(self, obj) -> str:
        return self.kind.title(obj)

    def link(self, obj) -> str:
        return self.kind.link(obj)

    def subtitle(self, obj) -> str:
        return f"The newest {FEED_LENGTH} updates, live from Liveblog."

    def items(self, obj):
        return (
            Entry.objects.visible()
            .filter(self.kind.entries(obj))
            .select_related("author", "attribution_speaker", "session__event")
            .order_by("-created_at", "-pk")[:FEED_LENGTH]
        )

    def item_title(self, entry: Entry) -> str:
        return entry_title(entry)

    def item_description(self, entry: Entry) -> str:
        if entry.answer_html:  # a reader's question, with its answer below
            return f"{entry.html}<p><strong>Answer:</strong></p>{entry.answer_html}"
        return entry.html

    def item_link(self, entry: Entry) -> str:
        return entry.get_absolute_url()

    def item_pubdate(self, entry: Entry):
        return entry.created_at

    def item_updateddate(self, entry: Entry):
        return entry.updated_at

    def item_author_name(self, entry: Entry) -> str:
        return entry.author.get_full_name() or entry.author.get_username()

    def item_categories(self, entry: Entry) -> list[str]:
        return [entry.session.title] + (["Key moment"] if entry.key_moment else [])


def feed_view(kind: FeedKind) -> EntriesFeed:
    return type(f"{kind.name.title()}Feed", (EntriesFeed,), {"kind": kind})()
