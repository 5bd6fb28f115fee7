"""The live dashboard sockets: a district's, and a province's."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from incidents.domain.streams import province_stream
from incidents.live import LiveConsumer, Refused
from incidents.policy import Actor, dashboard_stream, province_actor_for


class DashboardConsumer(LiveConsumer):
    """`/ws/dashboard/`: the district's stream for command staff, inspectors and reviewers;
    a unit's stream for its liaison."""

    def authorize(self, actor: Actor) -> str:
        stream = dashboard_stream(actor)
        if stream is None:
            raise Refused(_("Your role has no live dashboard."))
        return stream


class ProvinceConsumer(LiveConsumer):
    """`/ws/province/`: the province's stream (its districts' incidents of level II and
    above) for the provincial command."""

    def identify(self, user: Any) -> Actor:
        return province_actor_for(user)

    def authorize(self, actor: Actor) -> str:
        if actor.province_id is None:
            raise Refused(_("Your role has no province's dashboard."))
        return province_stream(actor.province_id)
