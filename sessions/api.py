from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from pydantic import Field

from liveblog.ids import parse_id
from sessions.models import Session, Speaker

router = Router()


# How many readers follow a session right now. The counting is realtime's
# (realtime/audience.py), an app above this one, so the API's assembly (liveblog/api.py)
# hands the counter in, as asgi.py hands the socket its catch-up.
def _no_count(session_id: int) -> int:
    return 0


_count_readers: Callable[[int], int] = _no_count


def count_readers_with(counter: Callable[[int], int]) -> None:
    global _count_readers
    _count_readers = counter


class SpeakerOut(Schema):
    id: int
    slug: str
    name: str
    affiliation: str
    link: str
    url: str

    @staticmethod
    def resolve_url(speaker: Speaker, context) -> str:
        return context["request"].build_absolute_uri(speaker.get_absolute_url())


class SessionOut(Schema):
    id: int
    event: int = Field(validation_alias="event_id")
    event_slug: str = Field(validation_alias="event.slug")
    title: str
    slug: str
    description: str
    room: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: Session.Status
    speakers: list[SpeakerOut]
    last_seq: int
    url: str

    @staticmethod
    def resolve_speakers(session: Session) -> list[Speaker]:
        return list(session.speakers.all())

    @staticmethod
    def resolve_url(session: Session, context) -> str:
        return context["request"].build_absolute_uri(session.get_absolute_url())


class SessionDetailOut(SessionOut):
    readers_now: int = Field(
        description=(
            "Readers following the session's live stream right now, across every server "
            "process (their websockets; bloggers' consoles are not counted)."
        )
    )


class SessionFilter(Schema):
    # A slug or an id: anything else (a NUL byte, which PostgreSQL refuses) is a 422.
    event: str | None = Field(
        None, description="The event's id or slug.", max_length=100, pattern=r"^[-\w]+$"
    )
    status: Session.Status | None = None


@router.get("", response=list[SessionOut], summary="List sessions")
def list_sessions(request: HttpRequest, filters: Query[SessionFilter]):
    sessions = Session.objects.for_listing()
    if filters.event:
        event_id = parse_id(filters.event)
        if event_id is not None:
            sessions = sessions.filter(event_id=event_id)
        else:
            sessions = sessions.filter(event__slug=filters.event)
    if filters.status:
        sessions = sessions.filter(status=filters.status)
    return list(sessions)  # read here, as events.api does: a database error is a 503


@router.get("/{int:session_id}", response=SessionDetailOut, summary="One session")
def get_session(request: HttpRequest, session_id: int):
    session = get_object_or_404(Session.objects.for_listing(), pk=session_id)
    session.readers_now = _count_readers(session.pk)
    return session
