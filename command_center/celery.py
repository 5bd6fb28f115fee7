"""The Celery app: a worker only wakes up to claim rows the database already holds."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")

app = Celery("command_center")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_the_hubs_logging(**kwargs: Any) -> None:
    """Workers and beat log like the web processes (LOG_FORMAT, LOG_LEVEL), not Celery's way."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
