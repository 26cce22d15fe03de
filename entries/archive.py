"""Pages across sessions: a hashtag's page over the whole archive, and a series' live stream.

Both list entries newest first with the fragment readers are pushed
(templates/entries/partials/entry.html), each under the city and session it came from,
paginated with ?page= so that they read without JavaScript.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import InvalidPage, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from entries import stream
from entries.hashtags import HASHTAG, TAG_WORD, normalise, tagged
from entries.models import Entry
from events.models import Series
from sessions.models import Session


def _page(request: HttpRequest, entries, per_page: int):
    paginator = Paginator(entries, per_page)
    number = request.GET.get("page", "1")
    try:
        return paginator.page(number)
    except InvalidPage as error:
        raise Http404(f"There is no page {number[:20]!r} here.") from error


def _items(entries) -> list[dict]:
    return [{"entry": entry, "fragment": stream.entry_html(entry)} for entry in entries]


@require_GET
def tag_page(request: HttpRequest, tag: str) -> HttpResponse:
    if not TAG_WORD.match(tag):
        raise Http404("A tag is one word of letters, digits or underscores.")
    tag = normalise(tag)
    entries = (
        Entry.objects.visible().for_display().filter(tagged(tag)).order_by("-created_at", "-pk")
    )
    page = _page(request, entries, settings.ENTRIES_PER_PAGE)
    return render(request, "entries/tag.html", {"tag": tag, "page": page, "items": _items(page)})


def _series_filters(request: HttpRequest, series: Series):
    """The city (an event slug of the series) and the tag asked for; ValueError if bad."""
    events = list(series.events.all())
    city = request.GET.get("city", "")
    if city and city not in {event.slug for event in events}:
        raise ValueError(f"{city[:100]!r} is not a city of {series.name}.")
    tag = request.GET.get("tag", "").strip()
    if tag:
        if not HASHTAG.fullmatch(f"#{tag.removeprefix('#')}"):
            raise ValueError("A tag is one word of letters, digits or underscores, e.g. smwldn.")
        tag = normalise(tag)
    return events, city, tag


def _live_sessions(series: Series, city: str):
    sessions = Session.objects.live().filter(event__series=series).select_related("event")
    if city:
        sessions = sessions.filter(event__slug=city)
    return sessions.order_by("event__city", "starts_at")


@require_GET
def series_page(request: HttpRequest, slug: str) -> HttpResponse:
    series = get_object_or_404(Series, slug=slug)
    try:
        events, city, tag = _series_filters(request, series)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    # Each session's position before its entries: the page never claims more than it shows.
    live = list(_live_sessions(series, city))
    entries = Entry.objects.visible().for_display().filter(session__in=[s.pk for s in live])
    if tag:
        entries = entries.filter(tagged(tag))
    page = _page(request, entries.order_by("-created_at", "-pk"), settings.ENTRIES_PER_PAGE)
    return render(
        request,
        "entries/series.html",
        {
            "series": series,
            "events": events,
            "city": city,
            "tag": tag,
            "live": live,
            "page": page,
            "items": _items(page),
            "is_head": page.number == 1,
            "filter_query": urlencode({k: v for k, v in (("city", city), ("tag", tag)) if v})
            + ("&" if city or tag else ""),
        },
    )


@require_GET
def series_live(request: HttpRequest, slug: str) -> JsonResponse:
    """The series' live sessions, for the page's script to find sessions that start later."""
    series = get_object_or_404(Series, slug=slug)
    try:
        _, city, _ = _series_filters(request, series)
    except ValueError as error:
        return JsonResponse({"detail": str(error)}, status=400)
    sessions = [
        {
            "id": session.pk,
            "title": session.title,
            "city": session.event.city,
            "url": session.get_absolute_url(),
        }
        for session in _live_sessions(series, city)
    ]
    return JsonResponse({"sessions": sessions})
