from __future__ import annotations

import json

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_http_methods

from archive import formats, portable, search
from archive.forms import SearchForm, SummaryForm
from archive.models import Summary
from entries import stream
from entries.models import Entry
from events.models import Event, organises
from sessions.models import Session

RESULTS_PER_PAGE = 20
EMBED_ENTRIES = 20


def _get_session(event: str, slug: str) -> Session:
    return get_object_or_404(
        Session.objects.select_related("event").prefetch_related("speakers"),
        event__slug=event,
        slug=slug,
    )


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """The readers' search: results with their words highlighted, filters kept in the URL."""
    form = SearchForm(request.GET or None)
    hits: list[search.Hit] = []
    more = False
    page = _page_number(request.GET.get("page"))
    status = 200
    if form.is_bound and form.is_valid():
        try:
            query = form.query()
            hits, more = search.search(
                query, limit=RESULTS_PER_PAGE, offset=(page - 1) * RESULTS_PER_PAGE
            )
        except search.SearchError:
            status = 400
    elif form.is_bound:
        status = 400
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "archive/search.html",
        {
            "form": form,
            "hits": hits,
            "searched": form.is_bound and not form.errors and bool(form.cleaned_data.get("q")),
            "page": page,
            "next_page": page + 1 if more else None,
            "previous_page": page - 1 if page > 1 else None,
            "params": params.urlencode(),
        },
        status=status,
    )


def _page_number(value: str | None) -> int:
    if value and value.isascii() and value.isdigit() and len(value) < 4:
        return max(1, min(int(value), search.MAX_OFFSET // RESULTS_PER_PAGE))
    return 1


@require_GET
@xframe_options_exempt
@csp_replace({"frame-ancestors": settings.EMBED_FRAME_ANCESTORS})
def embed(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """The session's live view for other sites' iframes: live.js keeps it current."""
    session = _get_session(event, slug)
    last_seq = session.last_seq  # before the entries, as the session page does
    entries = list(session.entries.visible().for_display().newest_first()[:EMBED_ENTRIES])
    return render(
        request,
        "archive/embed.html",
        {
            "session": session,
            "event": session.event,
            "entries": entries,
            "fragments": [stream.entry_html(entry) for entry in entries],
            "last_seq": last_seq,
        },
    )


@require_GET
def session_archive(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """An ended session as a record: its summary, key moments and every entry."""
    session = _get_session(event, slug)
    if session.status != Session.Status.ENDED:
        return redirect(session)
    order = "written" if request.GET.get("order") == "written" else "newest"
    entries = session.entries.visible().for_display()
    entries = list(entries.order_by("created_seq" if order == "written" else "-created_seq"))
    for entry in entries:
        entry.session = session
    return render(
        request,
        "archive/session.html",
        {
            "session": session,
            "event": session.event,
            "summary": Summary.objects.filter(session=session).first(),
            "entries": entries,
            "key_moments": [entry for entry in entries if entry.key_moment],
            "order": order,
            "can_write_summary": session.can_blog(request.user),
        },
    )


@require_http_methods(["GET", "POST"])
def edit_summary(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """The session's summary, written by one of its bloggers or an organiser."""
    session = _get_session(event, slug)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not session.can_blog(request.user):
        raise PermissionDenied("Only this session's bloggers and the organisers write its summary.")
    summary = Summary.objects.filter(session=session).first() or Summary(session=session)
    form = SummaryForm(request.POST or None, instance=summary)
    if request.method == "POST" and form.is_valid():
        summary = form.save(commit=False)
        summary.written_by = request.user
        summary.save()
        return redirect("archive:session", event=event, slug=slug)
    return render(
        request,
        "archive/summary_form.html",
        {"session": session, "event": session.event, "form": form},
        status=422 if form.errors else 200,
    )


@require_GET
def key_quotes(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """Every quote of the talk, with who said it and the minute into the talk."""
    session = _get_session(event, slug)
    quotes = list(
        session.entries.visible()
        .filter(kind=Entry.Kind.QUOTE)
        .select_related("attribution_speaker", "author")
        .order_by("created_seq")
    )
    for quote in quotes:
        quote.session = session
        quote.minute = formats.minute_into(quote, session)
    return render(
        request,
        "archive/quotes.html",
        {"session": session, "event": session.event, "quotes": quotes},
    )


def _organiser_event(request: HttpRequest, slug: str) -> Event:
    if not request.user.is_authenticated:
        raise PermissionDenied("Log in as an organiser to export an event.")
    event = get_object_or_404(Event, slug=slug)
    if not organises(request.user, event):
        raise PermissionDenied("Only the event's organisers export it.")
    return event


@require_GET
def exports(request: HttpRequest, slug: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    event = _organiser_event(request, slug)
    return render(
        request,
        "archive/exports.html",
        {"event": event, "entries": portable.count_entries(event)},
    )


EXPORTS = {
    "json": ("application/json", "json"),
    "markdown": ("text/markdown; charset=utf-8", "md"),
    "html": ("application/zip", "zip"),
}


@require_GET
def export_download(request: HttpRequest, slug: str, format: str) -> HttpResponse:
    """The event's archive as a download, in the formats export_archive writes."""
    event = _organiser_event(request, slug)
    if format not in EXPORTS:
        raise Http404("Exports are json, markdown or html.")
    content_type, extension = EXPORTS[format]
    if format == "json":
        body = json.dumps(portable.export_event(event), ensure_ascii=False, indent=1) + "\n"
    elif format == "markdown":
        body = formats.to_markdown(event, absolute=request.build_absolute_uri)
    else:
        body = formats.to_html_zip(event)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="{slugify(event.slug)}-archive.{extension}"'
    )
    return response
