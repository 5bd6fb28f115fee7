"""`/healthz` (the process answers) and `/readyz` (it can serve: database, Redis, workers).

Neither needs a login; neither shows a secret: a failed check names the error's class only
(the full error goes to the log, at most once a minute per check). Every check of `/readyz`
runs in a thread of its own and the answer waits for them at most `READYZ_TIMEOUT_SECONDS`,
so a hung database or Redis makes it answer 503 in time instead of hanging the prober.

`?skip=workers` leaves a check out: a reverse proxy deciding whether to send requests to a
web process should not take every web process out of service because Celery is down.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from command_center.ops import store

log = logging.getLogger(__name__)

WARN_EVERY_SECONDS = 60.0
_last_warning: dict[str, float] = {}


class CheckFailed(Exception):
    """A check's plain-language reason (safe to show)."""


@dataclass
class Result:
    ok: bool
    detail: str
    latency_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "latency_ms": self.latency_ms, **self.extra}


def check_database() -> Result:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # The check runs in a thread of its own: leave no connection behind.
        connection.close()
    return Result(True, connection.vendor)


def check_redis() -> Result:
    if not settings.REDIS_URL:
        return Result(True, "not used")
    store.redis_client(timeout=settings.READYZ_TIMEOUT_SECONDS).ping()
    return Result(True, "PONG")


def _beats_json(beats: dict[str, store.Beat], now: float) -> dict[str, Any]:
    return {
        name: {
            "age_seconds": round(beat.age(now), 1) if beat.at else None,
            "bound_seconds": beat.bound(),
            "fresh": beat.fresh(now),
        }
        for name, beat in sorted(beats.items())
    }


def check_workers() -> Result:
    """Embedded mode: every background loop of this process ran recently. Otherwise: some
    worker (Celery, through beat's heartbeat task, or `sms_worker`) beat recently."""
    now = time.time()
    if settings.EMBEDDED_SWEEP:
        beats = store.loop_beats()
        extra = {"mode": "embedded", "beats": _beats_json(beats, now)}
        if not beats:
            raise CheckFailed("no background loop runs in this process (is the lifespan on?)")
        stale = sorted(name for name, beat in beats.items() if not beat.fresh(now))
        if stale:
            return Result(False, "stale: " + ", ".join(stale), extra=extra)
        return Result(True, "background loops running", extra=extra)
    if not settings.REDIS_URL:
        raise CheckFailed("no workers: EMBEDDED_SWEEP is off and REDIS_URL is not set")
    beats = store.worker_beats()
    extra = {"mode": "workers", "beats": _beats_json(beats, now)}
    if not any(beat.fresh(now) for beat in beats.values()):
        return Result(False, "no worker heartbeat is recent", extra=extra)
    return Result(True, "workers alive", extra=extra)


CHECKS: dict[str, Callable[[], Result]] = {
    "database": check_database,
    "redis": check_redis,
    "workers": check_workers,
}


def _warn(name: str, exc: BaseException) -> None:
    now = time.monotonic()
    if now - _last_warning.get(name, -WARN_EVERY_SECONDS) >= WARN_EVERY_SECONDS:
        _last_warning[name] = now
        log.warning("readiness check %s failed", name, exc_info=exc)


def _run(name: str, check: Callable[[], Result], into: dict[str, Result]) -> None:
    started = time.monotonic()
    try:
        result = check()
    except CheckFailed as exc:
        result = Result(False, str(exc))
    except Exception as exc:
        _warn(name, exc)
        result = Result(False, f"error: {type(exc).__name__}")
    result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    into[name] = result


def readiness(skip: frozenset[str] = frozenset()) -> dict[str, Result]:
    """Run the checks side by side; one still running at the deadline fails as timed out."""
    results: dict[str, Result] = {}
    # Each thread runs in a copy of this context: its log lines keep the request id.
    threads = {
        name: threading.Thread(
            target=contextvars.copy_context().run,
            args=(_run, name, check, results),
            daemon=True,
        )
        for name, check in CHECKS.items()
        if name not in skip
    }
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + settings.READYZ_TIMEOUT_SECONDS
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    timeout_ms = settings.READYZ_TIMEOUT_SECONDS * 1000
    return {
        name: results.get(name) or Result(False, "timed out", latency_ms=timeout_ms)
        for name in threads
    }


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers; touches neither the database nor Redis."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    skip = frozenset(s.strip() for s in request.GET.get("skip", "").split(",") if s.strip())
    results = readiness(skip & set(CHECKS))
    ready = all(result.ok for result in results.values())
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {name: result.as_json() for name, result in results.items()},
        },
        status=200 if ready else 503,
    )
