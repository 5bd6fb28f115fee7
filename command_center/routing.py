"""WebSocket routes."""

from __future__ import annotations

from django.urls import path

from command_center.consumers import DashboardConsumer, ProvinceConsumer
from incidents.consumers import IncidentRoomConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/province/", ProvinceConsumer.as_asgi()),
    path("ws/incidents/<int:incident_id>/", IncidentRoomConsumer.as_asgi()),
]
