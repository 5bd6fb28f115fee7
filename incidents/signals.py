"""Close a person's open sockets when they log out or their access changes.

A socket keeps the user it connected with; without this, a logged-out or demoted person
would go on reading the stream until the next periodic re-check.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from incidents.domain.streams import user_group
from incidents.models import Membership

log = logging.getLogger(__name__)
User = get_user_model()


def sockets_revoke(user_ids: set[int]) -> None:
    """After commit, tell every open socket of these people to close."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return

        async def send_all() -> None:
            for user_id in sorted(user_ids):
                await layer.group_send(user_group(user_id), {"type": "hub.revoke"})

        try:
            async_to_sync(send_all)()
        except Exception:
            # The periodic re-check (WS_RECHECK_SECONDS) closes them instead.
            log.warning("could not revoke sockets of %s", sorted(user_ids), exc_info=True)

    if user_ids:
        transaction.on_commit(send)


@receiver(user_logged_out)
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and user.pk is not None:
        sockets_revoke({user.pk})


@receiver(m2m_changed, sender=User.groups.through)
def on_groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if reverse:
        # group.user_set changed: pk_set holds the users (None on clear: all of the group's).
        users = set(pk_set or []) or set(instance.user_set.values_list("pk", flat=True))
    else:
        users = {instance.pk}
    sockets_revoke(users)


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def on_membership_changed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    sockets_revoke({instance.user_id})


@receiver(post_save, sender=User)
def on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        sockets_revoke({instance.pk})
