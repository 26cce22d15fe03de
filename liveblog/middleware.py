from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from liveblog.ratelimit import RateLimited

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# Where a photo is posted: the API's endpoint and the console's form (entries/urls.py).
PHOTO_PATHS = re.compile(r"^/(api/sessions/[0-9]+/photos|events/[^/]+/[^/]+/console/photos/)$")
# The multipart envelope, the alt text and the caption around the image itself.
PHOTO_FORM_OVERHEAD = 64 * 1024


class BodyLimitMiddleware:
    """ASGI: refuse a request body over its limit (413), declared or as it arrives.

    Django's ASGIHandler reads the whole body before any Django middleware runs, so the
    limit is kept here, around it: API_MAX_REQUEST_BYTES under /api/, REQUEST_MAX_BYTES
    elsewhere, and PHOTO_MAX_BYTES (plus room for the form around it) on the two paths that
    take a photo (PHOTO_PATHS) alone. A declared Content-Length over the limit is answered
    at once, unread (a malformed one is a 400). Otherwise the body is counted as the app
    reads it; at the first byte over, the 413 goes out from here and the app is told the
    client left (Django then stops reading and answers nothing), so no view runs and
    nothing is kept.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(scope.get("root_path") or "")
        api = path.startswith("/api/")
        limit = settings.API_MAX_REQUEST_BYTES if api else settings.REQUEST_MAX_BYTES
        if scope["method"] == "POST" and PHOTO_PATHS.match(path):
            limit = settings.PHOTO_MAX_BYTES + PHOTO_FORM_OVERHEAD
        try:
            declared = declared_length(scope["headers"])
        except ValueError:
            await refuse(send, api, 400, "Content-Length is not a number.")
            return
        if declared is not None and declared > limit:
            await refuse(send, api, 413, over_limit(limit))
            return

        received = 0
        refused = False
        responding = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not responding:  # a begun answer cannot turn into a 413: cut short
                        await refuse(send, api, 413, over_limit(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responding
            if refused:
                return
            responding = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The request's Content-Length, None if it has none; ValueError if it is malformed."""
    values = {value.strip() for name, value in headers if name.lower() == b"content-length"}
    if not values:
        return None
    if len(values) > 1 or not all(value.isdigit() for value in values):
        raise ValueError("malformed Content-Length")
    return int(values.pop())


def over_limit(limit: int) -> str:
    return f"The request body is over {limit} bytes."


async def refuse(send: Send, api: bool, status: int, message: str) -> None:
    if api:
        body, content_type = json.dumps({"detail": message}).encode(), b"application/json"
    else:
        body, content_type = message.encode(), b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ApiErrorsAsJsonMiddleware:
    """Under /api/, an error Django answers itself is JSON {"detail": ...} like the API's own.

    The API answers its errors as JSON, but some never reach it: ninja answers a method a
    path does not take with Django's HTML 405, and Django a Host header it does not allow
    with its HTML 400 page. This sits outside those, so a script calling the API always
    gets JSON it can read. Headers such as Allow and Retry-After are kept.
    """

    KEPT_HEADERS = {"content-type", "content-length"}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith("/api/")
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        json_response = JsonResponse(
            {"detail": error_detail(request, response)},
            status=response.status_code,
            content_type="application/json; charset=utf-8",
        )
        for name, value in response.items():
            if name.lower() not in self.KEPT_HEADERS:
                json_response[name] = value
        json_response.cookies = response.cookies
        return json_response


def error_detail(request: HttpRequest, response: HttpResponse) -> str:
    if response.status_code == 405:
        allowed = ", ".join(sorted(response.get("Allow", "").replace(",", " ").split()))
        return f"{request.method} is not allowed here; this path takes {allowed}."
    if response.status_code == 400 and response.get("Content-Type", "").startswith("text/html"):
        # Django's own 400 page: refused before the API saw it (a Host header not allowed).
        return "Bad Request: refused before the API read it (is the Host header allowed?)."
    return response.reason_phrase


class RateLimitMiddleware:
    """Turn RateLimited, raised by any view, into a 429 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RateLimited):
            return None
        return too_many(request, exception)


def too_many(request: HttpRequest, exception: RateLimited) -> HttpResponse:
    if request.path.startswith("/api/"):
        # The API's own content type, as its every other answer (liveblog/api.py).
        response = JsonResponse(
            {"detail": str(exception)},
            status=429,
            content_type="application/json; charset=utf-8",
        )
    else:
        response = HttpResponse(
            str(exception), status=429, content_type="text/plain; charset=utf-8"
        )
    response["Retry-After"] = str(exception.retry_after)
    return response


# How long a client should wait before trying again while the database is unreachable.
DATABASE_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """The database unreachable (restarting, connections cut) while a view ran: 503 with
    Retry-After, not a 500, whether DEBUG is on (`make run`) or not; handler500
    (liveblog.views.server_error) does the same for what fails outside a view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        return database_unavailable(request)


def database_unavailable(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """503 and Retry-After, as JSON under /api/, text for htmx and the outbox, else a page."""
    message = (
        "The database is unreachable for a moment: nothing was changed. "
        f"Try again in {DATABASE_RETRY_AFTER_SECONDS} seconds."
    )
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    elif getattr(request, "htmx", False) or "X-Liveblog-Outbox" in request.headers:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response
