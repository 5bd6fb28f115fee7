"""The WebSocket load test (`tests/bench/bench_load_ws.py`): its delivery check, and one
run with tiny numbers so that the script cannot rot.

The run starts two uvicorn processes on a PostgreSQL database of its own (a SQLite file when
no PostgreSQL answers, except under CI=true, where that fails) and Redis (skipped without
it, except under CI=true).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from array import array
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.bench.bench_load_ws import (
    HEADLINE_KIND,
    Inboxes,
    LogFindings,
    Phase,
    Post,
    Seen,
    analyse,
    parse_args,
    report,
)
from tests.conftest import in_ci, redis_or_skip

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "bench" / "bench_load_ws.py"

LOG = [
    (11, HEADLINE_KIND, "C-1"),
    (12, "case.dispatched", "C-1"),
    (13, HEADLINE_KIND, "C-2"),
    (14, "case.dispatched", "C-2"),
]
MEANING = {event_id: (kind, case) for event_id, kind, case in LOG}
T0 = {"C-1": 100.0, "C-2": 101.0}


def seen(ids: list[int], at: list[float], head: int = 10) -> Seen:
    return Seen(head=head, server="app-1", ids=array("q", ids), at=array("d", at))


def test_a_client_with_every_frame_once_in_order_has_nothing_missing() -> None:
    result = analyse(LOG, [seen([11, 12, 13, 14], [100.05, 100.06, 101.2, 101.3])], T0, MEANING)

    assert (result.expected, result.delivered) == (4, 4)
    assert (result.missing, result.duplicated, result.out_of_order) == (0, 0, 0)
    assert result.headline_ms == pytest.approx([50.0, 200.0])
    assert result.all_ms == pytest.approx([50.0, 60.0, 200.0, 300.0])


def test_a_frame_a_client_never_got_is_missing_for_that_client_only() -> None:
    whole = seen([11, 12, 13, 14], [100.1, 100.1, 101.1, 101.1])
    short = seen([11, 12, 14], [100.1, 100.1, 101.1])

    result = analyse(LOG, [whole, short], T0, MEANING)

    assert result.expected == 8
    assert result.delivered == 7
    assert result.missing == 1
    assert result.missing_by_kind == {HEADLINE_KIND: 1}
    assert result.lost == 1


def test_repeated_and_late_frames_are_counted_apart() -> None:
    result = analyse(LOG, [seen([11, 13, 12, 13, 14], [100.1] * 5)], T0, MEANING)

    assert result.duplicated == 1  # 13 twice
    assert result.out_of_order == 1  # 12 after 13
    assert result.missing == 0


def test_only_events_after_the_clients_hello_are_expected() -> None:
    late = seen([13, 14], [101.1, 101.1], head=12)
    stale = seen([12, 13, 14], [100.1, 101.1, 101.1], head=12)  # 12 was before its hello

    result = analyse(LOG, [late, stale], T0, MEANING)

    assert result.expected == 4
    assert result.missing == 0
    assert result.out_of_order == 1


def test_frames_of_cases_without_a_post_are_checked_but_not_timed() -> None:
    result = analyse(LOG, [seen([11, 12, 13, 14], [100.1] * 4)], {"C-1": 100.0}, MEANING)

    assert result.delivered == 4
    assert len(result.all_ms) == 2


def test_the_inboxes_are_compacted_and_other_frames_counted() -> None:
    frame = {"type": "event", "id": 11, "kind": HEADLINE_KIND, "data": {"case_number": "C-1"}}
    client = SimpleNamespace(
        hello={"type": "hello", "head": 10},
        server="app-2",
        open=True,
        inbox=[
            (100.5, json.dumps(frame)),
            (100.6, json.dumps({"type": "error", "code": "forbidden"})),
            (100.7, "not json"),
        ],
    )
    inboxes = Inboxes()
    inboxes.add([client])  # type: ignore[list-item]

    inboxes.drain([client])  # type: ignore[list-item]

    got = inboxes.seen[id(client)]
    assert client.inbox == []
    assert (list(got.ids), list(got.at), got.head) == ([11], [100.5], 10)
    assert got.other == {"error: forbidden": 1, "not JSON:": 1}
    assert inboxes.meaning == {11: (HEADLINE_KIND, "C-1")}
    assert inboxes.reached([client], 11)  # type: ignore[list-item]
    assert not inboxes.reached([client], 12)  # type: ignore[list-item]


def phase(**changes: Any) -> Phase:
    result = Phase("load", 2, 1.0, connected=2)
    result.posts = [Post("app-1", 0.0, t0=0.0, done=0.1, status=201, case_number="C-1")]
    result.delivery = analyse(LOG[:2], [seen([11, 12], [0.1, 0.1])], {"C-1": 0.0}, MEANING)
    for name, value in changes.items():
        setattr(result, name, value)
    return result


def test_the_report_counts_no_error_for_a_clean_run(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["--clients", "2", "--seconds", "1"])

    errors = report(args, phase(), phase(), LogFindings(), "test", [])

    assert errors == 0
    assert "| missing frames | 0 | 0 |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "change",
    [
        {"posts": [Post("app-1", 0.0, t0=0.0, done=0.1, status=500, error="500: boom")]},
        {"refused": ["app-2: InvalidStatus: 403"]},
        {"dropped": ["app-1: closed, code 4409"]},
        {"delivery": analyse(LOG[:2], [seen([11], [0.1])], {"C-1": 0.0}, MEANING)},
        {"missing_in_log": ["C-1"]},
    ],
)
def test_the_report_counts_each_kind_of_error(
    change: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_args(["--clients", "2", "--seconds", "1"])

    assert report(args, phase(), phase(**change), LogFindings(), "test", []) == 1


def test_an_error_in_a_servers_log_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["--clients", "2", "--seconds", "1"])
    findings = LogFindings(errors=["app-1: ERROR: Exception in ASGI application"])

    assert report(args, phase(), phase(), findings, "test", []) == 1


def postgres_answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except Exception:
        return False
    return True


@pytest.mark.redis
@pytest.mark.own_databases
def test_ten_dashboards_on_two_processes_get_every_case_once(tmp_path: Path) -> None:
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    redis_or_skip(redis_url)
    parts = urlsplit(redis_url)
    postgres = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    extra: list[str] = []
    if not postgres_answers(postgres):
        if in_ci():
            pytest.fail(f"CI=true: PostgreSQL is not reachable at {postgres}")
        extra.append("--sqlite")
    rows_path = tmp_path / "rows.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        {
            "BENCH_ROWS": str(rows_path),
            "BENCH_POSTGRES_URL": postgres,
            "BENCH_REDIS_SERVER": f"{parts.scheme}://{parts.netloc}",
        }
    )
    # 10 clients, 2 cases a second for 5 s; its own Redis database (the default run uses 6).
    command = [sys.executable, str(SCRIPT), "--clients", "10", "--seconds", "5", "--rate", "2"]
    command += ["--baseline-seconds", "2", "--redis-db", "10", *extra]

    done = subprocess.run(  # noqa: S603 (fixed command, no shell)
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    rows = {
        row["figure"]: row
        for row in map(json.loads, rows_path.read_text(encoding="utf-8").splitlines())
    }
    assert {row["bench"] for row in rows.values()} == {"load_ws"}
    assert rows["errors (all kinds)"]["value"] == "0"
    assert rows["cases registered (201), achieved rate"]["value"].startswith("10 of 10,")
    assert rows["clients connected, time"]["value"].startswith("10 of 10 ")
    delivered, expected = map(int, rows["event frames delivered / expected"]["value"].split("/"))
    # Each case sends at least its `case.registered` to each of the 10 clients.
    assert delivered == expected >= 10 * 10
    p99 = rows[f"`{HEADLINE_KIND}` frame latency p99"]["value"]
    assert p99.endswith(" ms")
    assert 0 < float(p99.removesuffix(" ms")) < 30_000
    assert not math.isnan(float(rows["memory per connection, after the run"]["value"].split()[0]))
    assert "| missing frames | 0 | 0 |" in done.stdout
