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


@register()
def sms_configuration(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The SMS backend's settings: complete for the chosen provider; a real one in production."""
    from alerts.backends import BACKEND_ALIASES
    from alerts.domain.messages import TEMPLATES

    errors: list[Error] = []
    backend = settings.SMS_BACKEND
    if not settings.DEBUG and backend in ("console", "locmem"):
        errors.append(
            Error(
                f"SMS_BACKEND={backend} sends no SMS; field officers would never be alerted.",
                hint="Set SMS_BACKEND=twilio or aliyun and the provider's settings.",
                id="hub.E010",
            )
        )
    if backend in ("twilio", BACKEND_ALIASES["twilio"]):
        from alerts.backends.twilio import missing_settings

        missing = missing_settings()
        if missing:
            errors.append(
                Error(
                    "The Twilio SMS backend is missing: " + ", ".join(missing) + ".",
                    id="hub.E011",
                )
            )
    if backend in ("aliyun", BACKEND_ALIASES["aliyun"]):
        from alerts.backends.aliyun import configuration_problems

        errors.extend(
            Error(problem, id="hub.E012") for problem in configuration_problems(TEMPLATES)
        )
    if not settings.DEBUG and not settings.PUBLIC_BASE_URL.startswith("https://"):
        errors.append(
            Error(
                "PUBLIC_BASE_URL must be the hub's https:// address: SMS links and the "
                "provider's signed callbacks use it.",
                hint="Set PUBLIC_BASE_URL=https://hub.example.gov.cn",
                id="hub.E013",
            )
        )
    return errors


@register()
def map_tiles(app_configs: Any, **kwargs: Any) -> list[Error]:
    """MAP_TILES and its companions describe a tile source the maps can use."""
    from maps.domain.tiles import TileConfigError
    from maps.rendering import current_tiles

    try:
        current_tiles()
    except TileConfigError as exc:
        return [
            Error(
                str(exc),
                hint="MAP_TILES=none, tianditu (with MAP_TIANDITU_KEY) or a URL template "
                "with {z}, {x} and {y}.",
                id="hub.E020",
            )
        ]
    return []
