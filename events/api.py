from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from events.models import Event

router = Router()


class EventOut(Schema):
    id: int
    slug: str
    name: str
    city: str
    time_zone: str
    hashtag: str
    series_hashtag: str
    starts_on: dt.date
    ends_on: dt.date
    description: str
    url: str

    @staticmethod
    def resolve_url(event: Event, context) -> str:
        return context["request"].build_absolute_uri(event.get_absolute_url())


@router.get("", response=list[EventOut], summary="List events")
def list_events(request: HttpRequest):
    # Read here, not while the answer is serialised: a database error then is the API's to
    # answer (503), not one buried in a serialisation error (500).
    return list(Event.objects.all())
