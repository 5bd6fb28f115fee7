"""/healthz answers without touching anything; /readyz names each check and answers 503,
in bounded time, when the database, Redis or the workers are not there."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from command_center.ops import store
from tests.ops.conftest import free_port


def ready(client: Client, path: str = "/readyz") -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = client.get(path)
    return response.status_code, response.json(), time.monotonic() - started


def test_healthz_is_ok_without_database_or_redis(settings: Any) -> None:
    # No `db` fixture: pytest-django makes any query raise. Nothing listens at this Redis.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_ops_endpoints_are_not_redirected_to_https(settings: Any, path: str, db: None) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get(path).status_code in {200, 503}
    assert Client().get("/accounts/login/").status_code == 301  # the rest still is


def test_readyz_is_ok_in_embedded_mode_when_the_loops_run(db: None) -> None:
    store.loop_beat("clock_sweep", interval=60)
    store.loop_beat("relay", interval=5)
    status, body, _ = ready(Client())
    assert status == 200, body
    assert body["status"] == "ok"
    checks = body["checks"]
    assert set(checks) == {"database", "redis", "workers"}
    assert checks["database"]["ok"] is True
    assert checks["redis"] == {
        "ok": True,
        "detail": "not used",
        "latency_ms": pytest.approx(0, abs=50),
    }
    assert checks["workers"]["beats"]["clock_sweep"]["fresh"] is True
    for check in checks.values():
        assert isinstance(check["latency_ms"], float)


def test_readyz_fails_when_no_loop_runs_or_one_is_stale(db: None) -> None:
    status, body, _ = ready(Client())
    assert status == 503
    assert body["checks"]["workers"]["ok"] is False
    assert "lifespan" in body["checks"]["workers"]["detail"]

    store.loop_beat("relay", interval=5)
    store.loop_beat("clock_sweep", interval=60, at=time.time() - 181)  # 3 intervals + 1 s
    status, body, _ = ready(Client())
    assert status == 503
    assert body["checks"]["workers"]["detail"] == "stale: clock_sweep"

    store.loop_started("alerts", interval=5)  # started, never finished a round
    store.loop_beat("clock_sweep", interval=60)
    status, body, _ = ready(Client())
    assert status == 503
    assert body["checks"]["workers"]["detail"] == "stale: alerts"


def test_readyz_fails_when_the_database_cannot_be_reached(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.loop_beat("relay", interval=5)
    # The check opens a connection of its own with these settings (shared by every thread).
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent/dir/hub.sqlite3")
    else:
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", str(free_port()))
        monkeypatch.setitem(connection.settings_dict, "PASSWORD", "sw0rdfish-secret")
    status, body, elapsed = ready(Client())
    assert status == 503
    database = body["checks"]["database"]
    assert database["ok"] is False
    assert database["detail"] == "error: OperationalError"
    assert body["checks"]["redis"]["ok"] is True
    assert "nonexistent" not in str(body)
    assert "sw0rdfish" not in str(body)
    assert elapsed < 3


def test_readyz_can_leave_the_workers_out(db: None) -> None:
    status, body, _ = ready(Client(), "/readyz?skip=workers")
    assert status == 200
    assert set(body["checks"]) == {"database", "redis"}


def test_readyz_fails_fast_when_redis_refuses(settings: Any, db: None) -> None:
    settings.REDIS_URL = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    settings.EMBEDDED_SWEEP = False
    status, body, elapsed = ready(Client())
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["detail"].startswith("error: ")
    assert body["checks"]["workers"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert "hunter2" not in str(body)
    assert elapsed < 2.5


def test_a_hung_redis_does_not_hang_readyz(settings: Any, db: None, silent_server: int) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{silent_server}/0"
    settings.EMBEDDED_SWEEP = False
    settings.READYZ_TIMEOUT_SECONDS = 1.0
    status, body, elapsed = ready(Client())
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["detail"] in {"timed out", "error: TimeoutError"}
    assert elapsed < 2.0


@pytest.mark.redis
def test_readyz_needs_a_recent_worker_heartbeat(redis_prefix: str, db: None) -> None:
    status, body, _ = ready(Client())
    assert status == 503
    assert body["checks"]["workers"]["detail"] == "no worker heartbeat is recent"
    assert body["checks"]["redis"]["ok"] is True

    store.worker_beat("celery", interval=15, at=time.time() - 46)  # bound: 45 s
    status, body, _ = ready(Client())
    assert status == 503
    assert body["checks"]["workers"]["beats"]["celery"]["fresh"] is False

    store.worker_beat("sms_worker", interval=15)
    status, body, _ = ready(Client())
    assert status == 200, body
    assert body["checks"]["workers"]["beats"]["sms_worker"]["fresh"] is True


@pytest.mark.redis
def test_the_celery_heartbeat_task_and_the_sms_worker_beat(
    redis_prefix: str, settings: Any, db: None
) -> None:
    from django.core.management import call_command

    from command_center.tasks import heartbeat

    heartbeat()
    assert store.worker_beats()["celery"].fresh(time.time())
    settings.RISK_SWEEP_SECONDS = 0
    call_command("sms_worker", "--once")
    beat = store.worker_beats()["sms_worker"]
    assert beat.interval == settings.HEARTBEAT_SECONDS
    assert beat.fresh(time.time())
