"""Search for the JSON API (mounted by liveblog/api.py): GET /api/search?q=..."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from archive import search
from events.models import Event
from liveblog.ids import parse_id
from sessions.models import Session, Speaker

router = Router()

MAX_ID = 2**63 - 1
SLUG_OR_ID = r"^[-\w]+$"


class SearchParams(Schema):
    q: str = Field(..., max_length=search.MAX_QUERY_LENGTH, description='Words; "a phrase".')
    event: str | None = Field(
        None, max_length=100, pattern=SLUG_OR_ID, description="The event's id or slug."
    )
    session: int | None = Field(None, ge=1, le=MAX_ID, description="The session's id.")
    speaker: str | None = Field(
        None, max_length=100, pattern=SLUG_OR_ID, description="The speaker's id or slug."
    )
    since: dt.date | None = Field(None, description="From this day (UTC), inclusive.")
    until: dt.date | None = Field(None, description="To this day (UTC), inclusive.")
    type: list[Literal["entry", "quote", "session", "speaker"]] | None = Field(
        None, description="Only these kinds of result (repeat for several)."
    )
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=search.MAX_OFFSET)


class SessionRef(Schema):
    id: int
    title: str
    url: str


class SearchResult(Schema):
    type: str = Field(description="entry, quote, session or speaker.")
    id: int = Field(description="The entry's (session's, speaker's) id.")
    session: SessionRef | None = Field(
        description="The session it belongs to (none for a speaker)."
    )
    event: str | None = Field(description="The event's slug (none for a speaker).")
    title: str
    snippet: str = Field(description="HTML: the matching words in <mark>, everything else escaped.")
    url: str
    created_at: dt.datetime | None = Field(description="When the entry was posted.")


class SearchResults(Schema):
    results: list[SearchResult]
    has_more: bool


def _by_slug_or_id(model, value: str | None):
    if value is None:
        return None
    pk = parse_id(value)
    lookup = {"pk": pk} if pk is not None else {"slug": value}
    return get_object_or_404(model, **lookup)


def hit_json(hit: search.Hit, build_url) -> dict:
    """One hit as the API answers it (build_url makes a path absolute)."""
    session = hit.session
    obj = hit.object
    if hit.type == "speaker":
        title = obj.name
    elif hit.type == "session":
        title = obj.title
    else:
        title = obj.attribution if hit.type == "quote" else obj.session.title
    return {
        "type": hit.type,
        "id": hit.id,
        "session": (
            {"id": session.pk, "title": session.title, "url": build_url(session.get_absolute_url())}
            if session
            else None
        ),
        "event": session.event.slug if session else None,
        "title": title,
        "snippet": hit.snippet,
        "url": build_url(obj.get_absolute_url()),
        "created_at": obj.created_at if hit.type in ("entry", "quote") else None,
    }


@router.get("/search", response=SearchResults, summary="Search the archive")
def search_archive(request: HttpRequest, params: Query[SearchParams]):
    """Entries, quotes, sessions and speakers matching every word, best first."""
    try:
        query = search.query_for(
            params.q,
            event=_by_slug_or_id(Event, params.event),
            session=get_object_or_404(Session, pk=params.session) if params.session else None,
            speaker=_by_slug_or_id(Speaker, params.speaker),
            since=params.since,
            until=params.until,
            types=params.type,
        )
        hits, more = search.search(query, limit=params.limit, offset=params.offset)
    except search.SearchError as error:
        raise HttpError(422, str(error)) from None
    return {
        "results": [hit_json(hit, request.build_absolute_uri) for hit in hits],
        "has_more": more,
    }
