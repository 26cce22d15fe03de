"""ASGI entry point: HTTP through Django (bodies bounded first), websockets through Channels.

Readers' sockets go through entries.routing.websocket_application: the origin check, then
AuthMiddlewareStack for a socket that carries a session cookie (AnonymousUser, with no
lookup, for one that does not), then the route.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from entries.routing import websocket_application  # noqa: E402
from liveblog.middleware import BodyLimitMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimitMiddleware(django_asgi_app),
        "websocket": websocket_application,
    }
)
