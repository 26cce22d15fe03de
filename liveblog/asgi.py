"""ASGI entry point: HTTP through Django (bodies bounded first), websockets through Channels.

Readers' sockets go through realtime.routing.websocket_application: the origin check, then
AuthMiddlewareStack for a socket that carries a session cookie (AnonymousUser, with no
lookup, for one that does not), then the route. The socket's catch-up comes from the
stream (entries.stream), handed in here, at the top, so realtime never imports entries.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from entries.stream import catch_up  # noqa: E402
from liveblog.middleware import BodyLimitMiddleware  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402

websocket = websocket_application(catch_up)

application = ProtocolTypeRouter(
    {
        "http": BodyLimitMiddleware(django_asgi_app),
        "websocket": websocket,
    }
)
