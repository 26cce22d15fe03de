"""The reader's websocket route, and the websocket application that serves it.

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
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.urls import path

from entries.consumers import SessionConsumer

websocket_urlpatterns = [
    path("ws/sessions/<int:session_id>/", SessionConsumer.as_asgi()),
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


websocket_application = AllowedHostsOriginValidator(
    AuthWhenSignedIn(URLRouter(websocket_urlpatterns))
)
