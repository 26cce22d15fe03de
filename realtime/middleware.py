from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from realtime import broadcast


class SignedOutSocketsMiddleware:
    """Once a request has signed someone out, close the reader sockets of that sign-in.

    realtime.apps.note_sign_out marks the request; by the time the response comes back here
    the session is flushed, so the pages reconnect as who the browser is now.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session_key = getattr(request, "signed_out_session_key", None)
        if session_key:
            broadcast.signed_out(session_key)
        return response
