from django.apps import AppConfig


class CommandCenterConfig(AppConfig):
    name = "command_center"
    verbose_name = "Joint command"

    def ready(self) -> None:
        from . import auth, checks  # noqa: F401  (registers the login signals, the system checks)
