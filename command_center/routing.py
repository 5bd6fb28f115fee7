"""WebSocket routes; the consumers arrive with the live dashboard and incident rooms."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
