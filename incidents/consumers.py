"""The incident room socket: the incident's stream, chat, acknowledgements, checklist steps
and presence."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from incidents import selectors, services
from incidents.domain.streams import incident_stream
from incidents.live import LiveConsumer, Refused
from incidents.models import Incident
from incidents.policy import Actor, can_view_incident
from playbooks.services import StepMove, step_move


class IncidentRoomConsumer(LiveConsumer):
    """`/ws/incidents/<id>/`: everyone who may see the incident; reviewers only read."""

    def authorize(self, actor: Actor) -> str:
        incident_id = int(self.scope["url_route"]["kwargs"]["incident_id"])
        incident = Incident.objects.filter(pk=incident_id).first()
        if incident is None or not can_view_incident(actor, incident):
            raise Refused(_("You may not see this incident."))
        self.incident_id = incident_id
        return incident_stream(incident_id)

    async def on_action(self, kind: str, content: dict[str, Any]) -> None:
        if kind == "chat":
            await database_sync_to_async(services.room_chat)(
                actor=self.me, incident_id=self.incident_id, text=content.get("text")
            )
        elif kind == "ack":
            await database_sync_to_async(services.room_acknowledge)(
                actor=self.me, incident_id=self.incident_id, note=content.get("note", "")
            )
        elif kind == "step":
            step_id = content.get("step_id")
            if isinstance(step_id, bool) or not isinstance(step_id, int):
                raise Refused(_("“step_id” must be an integer."), code=0)
            revision = content.get("expected_revision")
            if revision is not None and (
                isinstance(revision, bool) or not isinstance(revision, int)
            ):
                raise Refused(_("“expected_revision” must be an integer."), code=0)
            state = content.get("state")
            await database_sync_to_async(step_move)(
                actor=self.me,
                step_id=step_id,
                incident_id=self.incident_id,
                move=StepMove(
                    state=state if isinstance(state, str) else "",
                    note=content.get("note", ""),
                    number=content.get("number"),
                    expected_revision=revision,
                ),
            )
        else:
            await super().on_action(kind, content)

    async def joined(self) -> None:
        def join() -> list[dict[str, Any]]:
            services.presence_join(
                incident_id=self.incident_id,
                user_id=self.me.user_id,
                channel_name=self.channel_name,
            )
            return selectors.room_members(self.incident_id)

        await self._announce_presence(await database_sync_to_async(join)())

    async def leaving(self) -> None:
        def leave() -> list[dict[str, Any]]:
            services.presence_leave(channel_name=self.channel_name)
            return selectors.room_members(self.incident_id)

        await self._announce_presence(await database_sync_to_async(leave)())

    async def beat(self) -> None:
        await database_sync_to_async(services.presence_touch)(channel_name=self.channel_name)

    async def _announce_presence(self, members: list[dict[str, Any]]) -> None:
        """Everyone in the room (in every process) learns who is present now."""
        await self.channel_layer.group_send(
            self.stream, {"type": "hub.presence", "stream": self.stream, "members": members}
        )

    async def hub_presence(self, message: dict[str, Any]) -> None:
        if message.get("stream") == self.stream:
            await self.send_json({"type": "presence", "members": message["members"]})
