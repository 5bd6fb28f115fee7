"""WebSocket routes."""

from __future__ import annotations

from django.urls import path

from command_center.consumers import DashboardConsumer
from incidents.consumers import IncidentRoomConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/incidents/<int:incident_id>/", IncidentRoomConsumer.as_asgi()),
]
