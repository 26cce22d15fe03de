from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from events.models import Event


@require_GET
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_object_or_404(Event, slug=slug)
    sessions = event.sessions.prefetch_related("speakers")
    return render(request, "events/detail.html", {"event": event, "sessions": sessions})
