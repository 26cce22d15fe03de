from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from events.models import Event
from sessions.models import Session


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    sessions = Session.objects.for_listing()
    mine = []
    if request.user.is_authenticated:
        mine = list(sessions.filter(bloggers=request.user).exclude(status=Session.Status.ENDED))
    return render(
        request,
        "events/home.html",
        {
            "live": sessions.live(),
            "upcoming": sessions.upcoming().filter(ends_at__gte=timezone.now())[:12],
            "events": Event.objects.all()[:20],
            "mine": mine,
        },
    )


@require_GET
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_object_or_404(Event, slug=slug)
    sessions = event.sessions.prefetch_related("speakers")
    return render(request, "events/detail.html", {"event": event, "sessions": sessions})
