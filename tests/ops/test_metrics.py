"""/metrics: the Prometheus text format, figures that move with the work (events relayed,
clocks swept, SMS sent), counts summed across processes through Redis, and who may read it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from alerts.services.outbox import outbox_send, sms_queue
from command_center.ops import store
from incidents.events import events_relay_all
from incidents.models import Clock, District, Event
from incidents.policy import Actor
from incidents.services import clocks_sweep
from tests.incidents.test_clocks import registered_cases
from tests.ops.conftest import free_port

Figures = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Client | None = None, **headers: str) -> Figures:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    figures: Figures = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            figures[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return figures


def value(figures: Figures, name: str, **labels: str) -> float:
    return figures[(name, tuple(sorted(labels.items())))]


def test_every_figure_is_in_the_text_format(db: None) -> None:
    figures = scrape()
    names = {name for name, _ in figures}
    assert {
        "hub_events_published_total",
        "hub_clock_sweeps_total",
        "hub_clocks_overdue_total",
        "hub_websocket_clients",
        "hub_sms_messages",
        "hub_queue_depth",
        "hub_ops_source_up",
    } <= names
    for status in ("queued", "sending", "sent", "delivered", "undelivered", "failed"):
        assert value(figures, "hub_sms_messages", status=status) == 0
    assert value(figures, "hub_queue_depth", queue="sms_outbox") == 0
    assert value(figures, "hub_ops_source_up", source="database") == 1


def test_relayed_events_are_counted_and_the_backlog_shown(
    actor: Callable[[str], Actor], django_capture_on_commit_callbacks: Any
) -> None:
    waiting = value(scrape(), "hub_queue_depth", queue="event_relay")  # the set-up's
    before = Event.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as relays:
        registered_cases(actor, 2)
    made = Event.objects.count() - before
    assert made >= 2
    assert relays  # not run: the events wait for the relay
    figures = scrape()
    assert value(figures, "hub_events_published_total") == 0
    assert value(figures, "hub_queue_depth", queue="event_relay") == waiting + made

    assert events_relay_all() == waiting + made
    figures = scrape()
    assert value(figures, "hub_events_published_total") == waiting + made
    assert value(figures, "hub_queue_depth", queue="event_relay") == 0


def test_clock_sweeps_and_overdue_clocks_are_counted(actor: Callable[[str], Actor]) -> None:
    cases = registered_cases(actor, 3)
    now = timezone.now()
    Clock.objects.filter(case__in=cases[:2]).update(due_at=now - timedelta(minutes=1))
    Clock.objects.filter(case__in=cases[2:]).update(due_at=now + timedelta(minutes=5))
    assert clocks_sweep(now=now) == 2
    assert clocks_sweep(now=now) == 0
    figures = scrape()
    assert value(figures, "hub_clock_sweeps_total") == 2
    assert value(figures, "hub_clocks_overdue_total") == 2


def test_sms_are_counted_by_status(normal_time: None, district: District) -> None:
    now = timezone.now()
    for n in range(3):
        sms_queue(
            district_id=district.pk,
            key=f"ops-test-{n}",
            to=f"+861390000000{n}",
            template="clock_overdue",
            params={"code": "NX-2026-000001", "clock": "7日承诺办结", "link": "https://x.cn/c"},
            reason="clock_overdue",
            validity=timedelta(hours=1),
            now=now,
        )
    figures = scrape()
    assert value(figures, "hub_sms_messages", status="queued") == 3
    assert value(figures, "hub_queue_depth", queue="sms_outbox") == 3
    assert outbox_send() == 3
    figures = scrape()
    assert value(figures, "hub_sms_messages", status="queued") == 0
    assert value(figures, "hub_sms_messages", status="sent") == 3
    assert value(figures, "hub_queue_depth", queue="sms_outbox") == 0


def test_database_figures_cost_one_grouped_query_each(
    district: District, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(2):  # SMS by status; events not relayed in every district
        scrape()


def test_websocket_clients_follow_opened_and_closed_sockets(db: None) -> None:
    class Socket:
        pass

    first, second, refused = Socket(), Socket(), Socket()
    store.ws_opened(first)
    store.ws_opened(second)
    store.ws_closed(refused)  # never counted: not subtracted
    assert value(scrape(), "hub_websocket_clients") == 2
    store.ws_closed(first)
    store.ws_closed(first)  # twice: once only
    assert value(scrape(), "hub_websocket_clients") == 1


def test_with_a_token_only_the_bearer_may_read(settings: Any, db: None) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    assert Client().get("/metrics").status_code == 403
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-tokeX")
    assert wrong.status_code == 403
    scrape(HTTP_AUTHORIZATION="Bearer s3cret-token")
    # The token replaces the address list: a remote scraper with it is let in.
    scrape(HTTP_AUTHORIZATION="Bearer s3cret-token", REMOTE_ADDR="203.0.113.9")


def test_without_a_token_only_listed_addresses_may_read(settings: Any, db: None) -> None:
    scrape()  # the test client is 127.0.0.1
    assert Client().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    settings.METRICS_ALLOW_IPS = ["10.0.0.0/8", "not-an-address"]
    scrape(REMOTE_ADDR="10.1.2.3")
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_recording_never_raises_nor_waits_when_redis_is_down(settings: Any, db: None) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    for _ in range(200):
        store.count("events_published")
    store.worker_beat("celery", interval=15)
    assert time.monotonic() - started < 2  # one failed try, then memory until retry time
    figures = scrape()  # still answers; says what it could not read
    assert value(figures, "hub_ops_source_up", source="counters") == 0
    assert value(figures, "hub_ops_source_up", source="database") == 1
    assert ("hub_events_published_total", ()) not in figures


SCRIPT = """
import django

django.setup()
from command_center.ops import store


class Socket:
    pass


store.count("events_published")
store.count("clocks_overdue", 2)
store.ws_opened(Socket())
assert store.ws_publish()
"""


@pytest.mark.redis
def test_counts_of_several_processes_add_up_through_redis(
    redis_prefix: str, tmp_path: Path, db: None
) -> None:
    env = {
        **os.environ,
        "REDIS_URL": django_settings.REDIS_URL,
        "CHANNEL_PREFIX": redis_prefix,
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "command_center.settings",
        "DEBUG": "true",
    }
    env.pop("DATABASE_URL", None)
    for _ in range(2):
        subprocess.run(  # noqa: S603 (fixed command)
            [sys.executable, "-c", SCRIPT],
            cwd=django_settings.BASE_DIR,
            env=env,
            check=True,
            timeout=120,
        )
    # Each process's socket count is a key of its own; both exited without removing theirs.
    assert store.counters() == {"events_published": 2, "clocks_overdue": 4}
    assert store.ws_clients() == 2
    store.count("events_published")
    figures = scrape()
    assert value(figures, "hub_events_published_total") == 3
    assert value(figures, "hub_clocks_overdue_total") == 4
    assert value(figures, "hub_websocket_clients") == 2
    assert value(figures, "hub_ops_source_up", source="counters") == 1
    assert value(figures, "hub_queue_depth", queue="celery") == 0


@pytest.mark.redis
def test_counts_kept_while_redis_was_down_reach_it_later(redis_prefix: str, settings: Any) -> None:
    real = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    store.count("clock_sweeps", 5)
    settings.REDIS_URL = real
    store._redis_down_until = 0.0  # the retry time has come
    store.count("clock_sweeps")
    assert store.counters()["clock_sweeps"] == 6


@pytest.mark.redis
def test_the_celery_queue_depth_counts_every_priority(redis_prefix: str, db: None) -> None:
    client = store.redis_client()
    client.lpush(f"{redis_prefix}:celery", "a", "b")
    client.lpush(f"{redis_prefix}:celery\x06\x166", "c")
    client.lpush("celery", "another hub's task")  # not this hub's queue
    try:
        assert value(scrape(), "hub_queue_depth", queue="celery") == 3
    finally:
        client.lrem("celery", 1, "another hub's task")
