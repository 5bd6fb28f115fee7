"""Structured logs (LOG_FORMAT=json) and the request id every response carries."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from command_center.ops import store
from command_center.ops.logs import JsonFormatter


def test_a_sane_request_id_is_kept_and_echoed() -> None:
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="proxy-7f3a.12:9")
    assert response["X-Request-ID"] == "proxy-7f3a.12:9"


@pytest.mark.parametrize("given", [None, "", "bad id", "x" * 129, "a\nforged line", "<script>"])
def test_otherwise_one_is_made(given: str | None) -> None:
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}
    first = Client().get("/healthz", **headers)["X-Request-ID"]
    second = Client().get("/healthz", **headers)["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_json_line_has_time_level_logger_message_and_exception() -> None:
    logger = logging.getLogger("hub.test")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        record = logger.makeRecord(
            "hub.test",
            logging.ERROR,
            __file__,
            1,
            "sweep of %s failed",
            ("河西镇",),
            sys.exc_info(),
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "hub.test"
    assert entry["message"] == "sweep of 河西镇 failed"
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
    assert "ZeroDivisionError" in entry["exception"]
    assert "request_id" not in entry  # outside a request


def test_log_lines_written_in_a_request_carry_its_id(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("command_center.ops.health")
    logger.addHandler(handler)
    store.loop_beat("relay", interval=5)
    # A failing readiness check logs its error from a thread of its own.
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent/dir/hub.sqlite3")
    else:
        monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    try:
        response = Client().get("/readyz", HTTP_X_REQUEST_ID="req-42")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 503
    entries = [json.loads(line) for line in lines]
    assert entries, "the failed check logged nothing"
    assert entries[0]["request_id"] == "req-42"
    assert entries[0]["level"] == "WARNING"
    assert "OperationalError" in entries[0]["exception"]


def run_with(env: dict[str, str], script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DATA_DIR": str(tmp_path), "DEBUG": "true", **env}
    full.pop("DATABASE_URL", None)
    return subprocess.run(  # noqa: S603 (fixed command)
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


LOG_SCRIPT = """
import logging
import django

django.setup()
logging.getLogger("incidents.events").warning("relay of %d events failed", 3)
logging.getLogger("uvicorn.access").info("GET /healthz 200")
"""


def test_log_format_json_makes_every_line_json(tmp_path: Path) -> None:
    done = run_with({"LOG_FORMAT": "json"}, LOG_SCRIPT, tmp_path)
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["logger"], e["message"]) for e in entries] == [
        ("incidents.events", "relay of 3 events failed"),
        ("uvicorn.access", "GET /healthz 200"),
    ]


def test_plain_text_stays_the_default(tmp_path: Path) -> None:
    done = run_with({"LOG_FORMAT": "plain"}, LOG_SCRIPT, tmp_path)
    assert "WARNING incidents.events relay of 3 events failed" in done.stderr
    assert not done.stderr.lstrip().startswith("{")


def test_an_unknown_log_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_with({"LOG_FORMAT": "xml"}, LOG_SCRIPT, tmp_path)
    assert "LOG_FORMAT must be plain or json" in failed.value.stderr
