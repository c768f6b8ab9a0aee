"""ASGI entry point: HTTP through Django, websockets through the apps' routes.

When WORKFLOW_EMBEDDED_WORKER is on (the SQLite default), the workflow worker runs
in a thread of this process.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from widgets.middleware import SocketAuthMiddleware  # noqa: E402
from widgets.routing import websocket_urlpatterns  # noqa: E402
from workflows.live import LoopCaptureMiddleware  # noqa: E402

application = LoopCaptureMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,  # static files: WhiteNoise (config/settings.py)
            # Browsers: session cookie and a same-site Origin; scripts: an API token, no Origin.
            "websocket": AuthMiddlewareStack(SocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
        }
    )
)

if settings.WORKFLOW_EMBEDDED_WORKER:
    from workflows.worker import start_embedded_worker

    start_embedded_worker()
