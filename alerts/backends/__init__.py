"""SMS backends, chosen by `settings.SMS_BACKEND` the way Django chooses `EMAIL_BACKEND`.

`SMS_BACKEND` is an alias (`console`, `locmem`, `twilio`, `aliyun`) or a dotted path to an
`SmsBackend` subclass. It is read on every call, so tests and `override_settings` switch
providers without restarting anything; only the class lookup is cached.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from alerts.backends.base import OutgoingSms, SendResult, SmsBackend, SmsError

__all__ = [
    "BACKEND_ALIASES",
    "OutgoingSms",
    "SendResult",
    "SmsBackend",
    "SmsError",
    "get_backend",
]

BACKEND_ALIASES: dict[str, str] = {
    "console": "alerts.backends.console.ConsoleBackend",
    "locmem": "alerts.backends.locmem.LocmemBackend",
    "twilio": "alerts.backends.twilio.TwilioBackend",
    "aliyun": "alerts.backends.aliyun.AliyunBackend",
}


@functools.lru_cache(maxsize=32)
def _backend_class(path: str) -> type[SmsBackend]:
    # lru_cache does not cache exceptions: a bad path fails on every call, loudly.
    dotted = BACKEND_ALIASES.get(path, path)
    try:
        found = import_string(dotted)
    except ImportError as exc:
        aliases = ", ".join(sorted(BACKEND_ALIASES))
        raise ImproperlyConfigured(
            f"SMS_BACKEND={path!r} cannot be loaded ({exc}). Use one of {aliases} "
            "or the dotted path of an alerts.backends.base.SmsBackend subclass."
        ) from exc
    if not (isinstance(found, type) and issubclass(found, SmsBackend)):
        raise ImproperlyConfigured(
            f"SMS_BACKEND={path!r} names {found!r}, which is not an SmsBackend subclass."
        )
    return found


def get_backend(path: str | None = None) -> SmsBackend:
    """A new instance of the configured SMS backend (or of `path`, an alias or dotted path).

    Raises ImproperlyConfigured when the path does not name an `SmsBackend` subclass.
    """
    return _backend_class(path or settings.SMS_BACKEND)()
