from django.apps import AppConfig


class CommandCenterConfig(AppConfig):
    name = "command_center"
    verbose_name = "Joint command"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
