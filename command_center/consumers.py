"""The live dashboard socket."""

from __future__ import annotations

from django.utils.translation import gettext as _

from incidents.live import LiveConsumer, Refused
from incidents.policy import Actor, dashboard_stream


class DashboardConsumer(LiveConsumer):
    """`/ws/dashboard/`: the district's stream for command staff, inspectors and reviewers;
    a unit's stream for its liaison."""

    def authorize(self, actor: Actor) -> str:
        stream = dashboard_stream(actor)
        if stream is None:
            raise Refused(_("Your role has no live dashboard."))
        return stream
