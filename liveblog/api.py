"""The public JSON API: /api/, with its OpenAPI schema at /api/openapi.json and docs at /api/docs.

Reads are open to everyone. Writes take the browser session (with its CSRF token) or a
personal token sent as `Authorization: Bearer TOKEN`. Every error is JSON: {"detail": "..."}.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from archive.api import router as archive_router
from entries.api import router as entries_router
from events.api import router as events_router
from liveblog.jsonbody import BadBody, StrictJSONParser
from liveblog.middleware import database_unavailable, too_many
from liveblog.ratelimit import RateLimited
from questions.api import router as questions_router
from realtime.audience import readers_now
from sessions.api import count_readers_with
from sessions.api import router as sessions_router

api = NinjaAPI(
    title="Liveblog API",
    version="1.0",
    description=(
        "Read events, sessions and the ordered stream of entries; post, edit and delete "
        "entries as an assigned blogger. See docs/api.md."
    ),
    urls_namespace="api",
    parser=StrictJSONParser(),
)
api.add_router("/events", events_router, tags=["events"])
api.add_router("/sessions", sessions_router, tags=["sessions"])
count_readers_with(readers_now)
api.add_router("", entries_router, tags=["entries"])
api.add_router("", archive_router, tags=["search"])
api.add_router("", questions_router, tags=["questions"])


def _error(request: HttpRequest, status: int, detail: str, **extra) -> HttpResponse:
    return api.create_response(request, {"detail": detail, **extra}, status=status)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, str(exc) or "Not found.")


@api.exception_handler(PermissionDenied)
def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or "You may not do that.")


@api.exception_handler(AuthenticationError)
def unauthorised(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(
        request, 401, "Authentication required: log in, or send Authorization: Bearer <token>."
    )
    response["WWW-Authenticate"] = 'Bearer realm="liveblog"'
    return response


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": error.get("msg", "")}
        for error in exc.errors
    ]
    return _error(request, 422, "The request is not valid.", errors=errors)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, BadBody):
        # ninja wraps whatever the parser raises in a 400 "Cannot parse request body";
        # the parser's own message says what is wrong and where.
        return _error(request, 400, str(exc.__cause__))
    extra = {"errors": exc.errors} if getattr(exc, "errors", None) else {}
    return _error(request, exc.status_code, str(exc), **extra)


# The database restarting, or its connections cut: 503 and Retry-After, not a 500.
api.add_exception_handler(OperationalError, database_unavailable)
api.add_exception_handler(InterfaceError, database_unavailable)


@api.exception_handler(RateLimited)
def rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    return too_many(request, exc)
