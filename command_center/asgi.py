"""ASGI entry point: HTTP through Django, WebSocket through Channels.

In embedded mode (no REDIS_URL) there is no Celery beat, so the process runs the clock
sweep itself, started from the ASGI lifespan (see `command_center.embedded`).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from command_center.embedded import LifespanApp  # noqa: E402
from command_center.routing import websocket_urlpatterns  # noqa: E402

application = LifespanApp(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            # Origin is checked by the consumers (`incidents.live`): a browser's session
            # needs this site's Origin, a ticket client may send none.
            "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
        }
    )
)
