from __future__ import annotations

import hashlib
import sys

from django.conf import settings
from django.contrib.auth.views import LoginView as DjangoLoginView
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from django.views.defaults import permission_denied as default_permission_denied
from django.views.defaults import server_error as default_server_error
from django.views.static import serve

from events.models import Event
from liveblog.middleware import database_unavailable
from liveblog.ratelimit import RateLimited, client_address, hit
from sessions.models import Session


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """What is live, what is coming, the events; and a blogger's own sessions."""
    sessions = Session.objects.for_listing()
    mine = []
    if request.user.is_authenticated:
        mine = list(sessions.blogged_by(request.user).exclude(status=Session.Status.ENDED))
    return render(
        request,
        "home.html",
        {
            "live": sessions.live(),
            "upcoming": sessions.upcoming().filter(ends_at__gte=timezone.now())[:12],
            "events": Event.objects.all()[:20],
            "mine": mine,
        },
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500, unless the database is unreachable (restarting, connections cut): then a 503
    with Retry-After, which the console's outbox and API scripts retry, losing nothing.
    (Raised by a view, DatabaseUnavailableMiddleware answers first, with DEBUG on too.)"""
    error = sys.exc_info()[1]
    if not isinstance(error, OperationalError | InterfaceError):
        return default_server_error(request)
    return database_unavailable(request)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """htmx and the console's outbox get the reason as plain text, to show where they asked."""
    if getattr(request, "htmx", False) or "X-Liveblog-Outbox" in request.headers:
        message = str(exception) or "You may not do that."
        return HttpResponseForbidden(message, content_type="text/plain; charset=utf-8")
    return default_permission_denied(request, exception)


class LoginView(DjangoLoginView):
    """Django's login, with attempts limited per address and per username and address."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        address = client_address(request)
        username = request.POST.get("username", "").strip().lower().encode()
        try:
            hit(f"login:{address}", limit=settings.RATE_LIMIT_LOGIN_PER_ADDRESS, window=300)
            hit(
                f"login:{address}:{hashlib.sha256(username).hexdigest()[:24]}",
                limit=settings.RATE_LIMIT_LOGIN,
                window=300,
            )
        except RateLimited as limited:
            # No password is checked while limited: an unbound form and the reason.
            context = self.get_context_data(
                form=self.form_class(request),
                limited=f"Too many login attempts. Try again in "
                f"{limited.retry_after // 60 + 1} minutes.",
            )
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(limited.retry_after)
            return response
        return super().post(request, *args, **kwargs)


@csrf_exempt  # it writes nothing, whatever the method
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Under /api/, even a path that matches no route answers JSON."""
    return JsonResponse(
        {"detail": f"No API endpoint at {request.path}."},
        status=404,
        content_type="application/json; charset=utf-8",
    )


@require_GET
def media(request: HttpRequest, path: str) -> HttpResponse:
    """Photos' renditions from MEDIA_ROOT, when SERVE_MEDIA is on (development, or a small
    production without a proxy serving /media/; docs/deploy.md). Names never change once
    written (each photo has its own random folder), so browsers may keep them for a year."""
    if not settings.SERVE_MEDIA:
        raise Http404("Media are served by the proxy here.")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
