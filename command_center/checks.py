"""System checks that refuse development backends when DEBUG is off."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security)
def production_backends(app_configs: Any, **kwargs: Any) -> list[Error]:
    """With DEBUG off, refuse the embedded-mode defaults that only suit a laptop."""
    errors: list[Error] = []
    if settings.DEBUG:
        return errors
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        errors.append(
            Error("SECRET_KEY is the development key.", hint="Set SECRET_KEY.", id="hub.E001")
        )
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        errors.append(
            Error(
                "Production needs PostgreSQL.",
                hint="Set DATABASE_URL=postgres://...",
                id="hub.E002",
            )
        )
    if not settings.REDIS_URL:
        errors.append(
            Error(
                "Production needs Redis for the channel layer and the task queue.",
                hint="Set REDIS_URL=redis://...",
                id="hub.E003",
            )
        )
    return errors
