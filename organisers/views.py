"""The organisers' own pages: their events, each event's sessions and speakers.

Every view starts from get_event_for_organiser(request, slug): the event, if this user organises it
(events.models.organises), else 403 with the reason. Status changes go through
entries.actions.set_session_status, so readers see them live.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import BLOGGERS
from entries import actions
from events.models import Event, organises
from organisers.dashboard import session_figures
from organisers.forms import SessionForm, SpeakerForm
from sessions.models import Session, Speaker

NOT_YOURS = "You do not organise this event."


def get_event_for_organiser(request: HttpRequest, slug: str) -> Event:
    event = get_object_or_404(Event.objects.select_related("series"), slug=slug)
    if not organises(request.user, event):
        raise PermissionDenied(NOT_YOURS)
    return event


def get_session_of(event: Event, pk: int) -> Session:
    return get_object_or_404(event.sessions.select_related("event"), pk=pk)


@login_required
def events(request: HttpRequest) -> HttpResponse:
    mine = Event.objects.organised_by(request.user).select_related("series")
    mine = mine.annotate(
        session_count=Count("sessions", distinct=True),
        live_count=Count("sessions", filter=Q(sessions__status="live"), distinct=True),
    )
    return render(request, "organisers/events.html", {"events": mine})


@login_required
def event(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    sessions = event.sessions.prefetch_related("speakers", "bloggers")
    return render(request, "organisers/event.html", {"event": event, "sessions": sessions})


@login_required
def event_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    """Audience and activity per session (organisers/dashboard.py): organisers of the event."""
    event = get_event_for_organiser(request, slug)
    figures = session_figures(event)
    return render(
        request,
        "organisers/dashboard.html",
        {"event": event, "figures": figures, "charted": [f for f in figures if f.chart]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def session_form(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    session = get_session_of(event, pk) if pk is not None else None
    # The form reads and shows times in the event's zone, whatever the organiser's is.
    with timezone.override(event.time_zone):
        form = SessionForm(request.POST or None, event=event, instance=session)
        if request.method == "POST" and form.is_valid():
            saved = form.save()
            messages.success(request, f"Saved “{saved.title}”.")
            return redirect("organisers:session", slug=event.slug, pk=saved.pk)
        return render(
            request,
            "organisers/session.html",
            {
                "event": event,
                "session": session,
                "form": form,
                # Suggestions for the assign field: the bloggers' accounts.
                "blogger_names": get_user_model()
                .objects.filter(groups__name=BLOGGERS, is_active=True)
                .order_by("username")
                .values_list("username", flat=True)[:500],
            },
            status=400 if form.errors else 200,
        )


@login_required
@require_POST
def session_status(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    session = get_session_of(event, pk)
    status = request.POST.get("status", "")
    try:
        changed = actions.set_session_status(session=session, status=status, by=request.user)
    except actions.StreamRefused as refusal:
        messages.error(request, f"“{session.title}” was not changed: {refusal}")
    else:
        if changed:
            messages.success(request, f"“{session.title}” is now {session.status}.")
    if request.POST.get("back") == "session":
        return redirect("organisers:session", slug=event.slug, pk=session.pk)
    return redirect("organisers:event", slug=event.slug)


@login_required
@require_http_methods(["GET", "POST"])
def speakers(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    form = SpeakerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        speaker = form.save()
        messages.success(request, f"Added {speaker.name}: pick them on a session's page.")
        return redirect("organisers:speakers", slug=event.slug)
    listed = Speaker.objects.filter(Q(sessions__event=event) | Q(sessions__isnull=True)).distinct()
    return render(
        request,
        "organisers/speakers.html",
        {"event": event, "speakers": listed, "form": form},
        status=400 if form.errors else 200,
    )


def _speaker_refusal(request: HttpRequest, speaker: Speaker) -> str | None:
    """A speaker who also speaks at an event this organiser does not run is not theirs."""
    for other in Event.objects.filter(sessions__speakers=speaker).distinct():
        if not organises(request.user, other):
            return f"{speaker.name} also speaks at {other.name}: ask its organisers."
    return None


@login_required
@require_http_methods(["GET", "POST"])
def speaker(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    speaker = get_object_or_404(
        Speaker.objects.filter(Q(sessions__event=event) | Q(sessions__isnull=True)).distinct(),
        pk=pk,
    )
    refusal = _speaker_refusal(request, speaker)
    if refusal and request.method == "POST":
        raise PermissionDenied(refusal)
    form = SpeakerForm(request.POST or None, instance=speaker)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved {speaker.name}.")
        return redirect("organisers:speakers", slug=event.slug)
    return render(
        request,
        "organisers/speaker.html",
        {"event": event, "speaker": speaker, "form": form, "refusal": refusal},
        status=400 if form.errors else 200,
    )
