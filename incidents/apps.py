from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _guard_event_log(using: str, **_kwargs: Any) -> None:
    """After every `migrate`, the events table refuses updates and deletes again (a
    migration that rebuilds the table on SQLite drops its triggers)."""
    from incidents import event_guard

    event_guard.install(connections[using])


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Cases and incidents")

    def ready(self) -> None:
        from incidents import signals  # noqa: F401  (connects the receivers)

        post_migrate.connect(_guard_event_log, sender=self, dispatch_uid="incidents-event-guard")
