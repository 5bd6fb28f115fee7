from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Cases and incidents")

    def ready(self) -> None:
        from incidents import signals  # noqa: F401  (connects the receivers)
