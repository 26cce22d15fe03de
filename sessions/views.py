from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from sessions.models import Session, Speaker

QUOTES_PER_PAGE = 50


@require_GET
def speaker(request: HttpRequest, slug: str) -> HttpResponse:
    speaker = get_object_or_404(Speaker, slug=slug)
    sessions = speaker.sessions.select_related("event").order_by("-starts_at")
    quotes = Paginator(
        speaker.quotes.visible()
        .select_related("session__event", "author", "attribution_speaker")
        .order_by("-created_at", "-pk"),
        QUOTES_PER_PAGE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "sessions/speaker.html",
        {"speaker": speaker, "sessions": sessions, "quotes": quotes},
    )


@require_POST
def set_status(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """Start or end a session; readers see the new status at once."""
    session = get_object_or_404(
        Session.objects.select_related("event"), event__slug=event, slug=slug
    )
    if not session.can_blog(request.user):
        raise PermissionDenied("You are not assigned to blog this session.")
    status = request.POST.get("status")
    if status not in Session.Status.values:
        return HttpResponseBadRequest("status must be one of: upcoming, live, ended.")
    session.set_status(status)
    if not request.htmx:
        return redirect(session.get_console_url())
    return render(request, "sessions/partials/console_status.html", {"session": session})
