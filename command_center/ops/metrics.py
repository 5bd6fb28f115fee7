"""`/metrics`: the hub's figures in Prometheus' text format.

Counters come from `store` (every process's, summed in Redis), the SMS and queue figures
from the database (one grouped query each) and the broker. A source that cannot be read
is left out and reported by `hub_ops_source_up{source=...} 0`, so a scrape still answers.

Access: with `METRICS_TOKEN` set, only `Authorization: Bearer <token>`; otherwise only
clients whose address is in `METRICS_ALLOW_IPS` (addresses or networks; default loopback).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from command_center.ops import store

log = logging.getLogger(__name__)

COUNTERS = {
    "events_published": "Events handed to the channel layer (live screens).",
    "clock_sweeps": "Runs of the clock sweep.",
    "clocks_overdue": "Clocks the sweep marked overdue.",
    "event_chain_breaks": "Broken event-log hash chains found by the periodic check.",
}
REDIS_SOURCES = frozenset({"counters", "websocket", "broker", "heartbeats"})
# kombu's Redis transport keeps a queue's priorities 3, 6 and 9 in lists of their own.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def sms_by_status() -> dict[str, int]:
    """SMS messages per status: one grouped query."""
    from alerts.domain.delivery import SmsStatus
    from alerts.models import SmsMessage

    found = dict(
        SmsMessage.objects.order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {status.value: int(found.get(status.value, 0)) for status in SmsStatus}


def events_not_relayed() -> int:
    """Events committed but not yet handed to the channel layer, in every district: one
    query (per district, its events past the relay's cursor, through the (district, id)
    index)."""
    from incidents.models import District, Event, EventRelay

    cursor = EventRelay.objects.filter(district_id=OuterRef("pk")).values("published_id")[:1]
    behind = (
        Event.objects.filter(district_id=OuterRef("pk"), id__gt=OuterRef("published"))
        .order_by()
        .values("district_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    total = (
        District.objects.annotate(published=Coalesce(Subquery(cursor), Value(0)))
        .annotate(behind=Coalesce(Subquery(behind, output_field=IntegerField()), Value(0)))
        .aggregate(total=Sum("behind"))["total"]
    )
    return int(total or 0)


def celery_queue_depth() -> int:
    """Task messages waiting in the broker's default queue (all priorities)."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    prefix = str(options.get("global_keyprefix", ""))
    queue = prefix + getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
    keys = [queue, *(f"{queue}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS)]
    pipe = store.redis_client().pipeline(transaction=False)
    for key in keys:
        pipe.llen(key)
    return sum(int(n) for n in pipe.execute())


class HubCollector(Collector):
    """Reads every figure at scrape time."""

    def __init__(self) -> None:
        self.sources: dict[str, int] = {}
        self.redis_failed = False

    def collect(self) -> Iterator[Metric]:
        up = self.sources
        redis_used = bool(settings.REDIS_URL)

        values = self._read("counters", store.counters, up)
        if values is not None:
            for name, text in COUNTERS.items():
                counter = CounterMetricFamily(f"hub_{name}", text)
                counter.add_metric([], values.get(name, 0))
                yield counter

        clients = self._read("websocket", store.ws_clients, up)
        if clients is not None:
            yield GaugeMetricFamily(
                "hub_websocket_clients", "WebSocket clients connected.", value=clients
            )

        depth = GaugeMetricFamily("hub_queue_depth", "Work waiting, by queue.", labels=["queue"])
        sms = self._read("database", sms_by_status, up)
        if sms is not None:
            family = GaugeMetricFamily(
                "hub_sms_messages", "SMS messages in the outbox, by status.", labels=["status"]
            )
            for status, n in sms.items():
                family.add_metric([status], n)
            yield family
            depth.add_metric(["sms_outbox"], sms.get("queued", 0))
        behind = self._read("database", events_not_relayed, up)
        if behind is not None:
            depth.add_metric(["event_relay"], behind)
        if redis_used and settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            tasks = self._read("broker", celery_queue_depth, up)
            if tasks is not None:
                depth.add_metric(["celery"], tasks)
        yield depth

        beats = self._read("heartbeats", store.worker_beats, up)
        loops = store.loop_beats()
        age = GaugeMetricFamily(
            "hub_heartbeat_age_seconds",
            "Seconds since a worker (or, embedded, a loop of this process) last beat.",
            labels=["worker"],
        )
        now = time.time()
        for name, beat in sorted({**(beats or {}), **loops}.items()):
            if beat.at:
                age.add_metric([name], round(beat.age(now), 3))
        yield age
        family = GaugeMetricFamily(
            "hub_ops_source_up", "Whether a source of these figures answered.", labels=["source"]
        )
        for source, ok in sorted(self.sources.items()):
            family.add_metric([source], ok)
        yield family

    def _read(self, source: str, read: Any, up: dict[str, int]) -> Any:
        # One Redis timeout per scrape is enough: after a failure the other Redis reads are
        # not tried.
        in_redis = bool(settings.REDIS_URL) and source in REDIS_SOURCES
        if in_redis and self.redis_failed:
            up[source] = 0
            return None
        try:
            value = read()
        except Exception:
            log.warning("metrics: could not read %s", source, exc_info=True)
            up[source] = 0
            self.redis_failed = self.redis_failed or in_redis
            return None
        up.setdefault(source, 1)
        return value


def _address_allowed(address: str) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOW_IPS:
        try:
            if client in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def scrape_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return _address_allowed(request.META.get("REMOTE_ADDR", ""))


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
