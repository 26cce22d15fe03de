"""The reader's websocket route, and the websocket application that serves it.

Any other path is refused at the handshake (daphne answers 403), with no error logged.

Most readers are anonymous and send no session cookie. For them Channels'
AuthMiddlewareStack would still open the session and look the user up (a thread hop per
connect, and three more copies of the scope), which a reconnect storm pays thousands of
times over (docs/benchmarks.md). So a socket that carries the session cookie goes through
AuthMiddlewareStack, and one that carries none gets AnonymousUser straight away: the same
user either way, since without the cookie there is no session to find.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.urls import path, re_path

from realtime.consumers import CatchUpLoader, SessionConsumer


class NoSuchSocket(AsyncWebsocketConsumer):
    """An upgrade on a path that has no socket: refused before accepting (HTTP 403)."""

    channel_layer_alias = "liveblog.no-channel"

    async def connect(self) -> None:
        await self.close()


def websocket_urlpatterns(catch_up: CatchUpLoader) -> list:
    return [
        path("ws/sessions/<int:session_id>/", SessionConsumer.as_asgi(catch_up=catch_up)),
        re_path(r"", NoSuchSocket.as_asgi()),
    ]


class AuthWhenSignedIn:
    """AuthMiddlewareStack for sockets with a session cookie; AnonymousUser for the rest."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.authenticated = AuthMiddlewareStack(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if has_session_cookie(scope):
            return await self.authenticated(scope, receive, send)
        return await self.inner({**scope, "user": AnonymousUser()}, receive, send)


def has_session_cookie(scope: dict[str, Any]) -> bool:
    # A cookie whose name merely contains ours ("xsessionid") costs a needless lookup,
    # never a missed one.
    name = settings.SESSION_COOKIE_NAME.encode()
    return any(header == b"cookie" and name in value for header, value in scope.get("headers", ()))


def websocket_application(catch_up: CatchUpLoader):
    """The origin check, the user (AuthWhenSignedIn), then the route."""
    return AllowedHostsOriginValidator(AuthWhenSignedIn(URLRouter(websocket_urlpatterns(catch_up))))
