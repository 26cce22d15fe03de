"""liveblog's ASGI application with the reader socket on the plain Channels consumer.

HTTP (pages, the API, posting) is the real application; only the websocket route differs.
For the bench's baseline figures:  daphne bench.baseline_asgi:application
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from bench.baseline_consumer import PlainChannelsConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter([path("ws/sessions/<int:session_id>/", PlainChannelsConsumer.as_asgi())])
            )
        ),
    }
)
