from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from sessions.models import Speaker

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
