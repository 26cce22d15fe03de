"""The reader's websocket route, and the websocket application to serve it with.

Readers are anonymous: the socket needs no session or user, so websocket_application
leaves out Channels' AuthMiddlewareStack (a session lookup and a thread hop per connect,
plus three copies of the scope), which makes a reconnect storm cheaper (docs/benchmarks.md).
"""

from __future__ import annotations

from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from entries.consumers import SessionConsumer

websocket_urlpatterns = [
    path("ws/sessions/<int:session_id>/", SessionConsumer.as_asgi()),
]

websocket_application = AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))
