"""The figures and heartbeats every process of a hub records, read by `/metrics` and `/readyz`.

With `REDIS_URL` they live in Redis under `<CHANNEL_PREFIX>:ops:`, so that any web process
reports the work of all of them (web, Celery, `sms_worker`): counters in one hash (HINCRBY),
each ASGI process's open sockets in a key of its own that expires unless refreshed, worker
heartbeats in another hash. Without `REDIS_URL` (the embedded mode: one process) they stay
in this process's memory.

Recording never raises and never waits long: Redis calls have short timeouts, and after a
failure counts are kept in memory and added to Redis once it answers again (a warning is
logged at most once a minute).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import redis
from django.conf import settings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Short: a recording call sits on a request's or a sweep's path.
SOCKET_TIMEOUT_SECONDS = 0.5
# After a failure Redis is left alone this long; counts wait in memory meanwhile.
RETRY_AFTER_SECONDS = 10.0
WARN_EVERY_SECONDS = 60.0
# A process's socket count is rewritten this often and expires after WS_TTL_SECONDS, so the
# sockets of a process that died stop being counted.
WS_PUBLISH_SECONDS = 15.0
WS_TTL_SECONDS = 60

_lock = threading.Lock()
_counts: Counter[str] = Counter()  # embedded: the counters; with Redis: not yet written
_worker_beats: dict[str, tuple[float, float]] = {}  # embedded: name -> (at, interval)
_loop_beats: dict[str, tuple[float, float]] = {}  # this process's loops: name -> (at, interval)
_ws_open = 0
_ws_changed = False
_redis_down_until = 0.0
_last_warning = 0.0
_clients: dict[tuple[str, float], redis.Redis] = {}


@dataclass(frozen=True)
class Beat:
    """A heartbeat: when it was last seen and how often it is expected."""

    at: float
    interval: float

    def age(self, now: float) -> float:
        return max(0.0, now - self.at)

    def bound(self) -> float:
        """Older than this, the process behind it is taken for dead: three missed beats."""
        return 3 * max(self.interval, 1.0)

    def fresh(self, now: float) -> bool:
        return self.age(now) <= self.bound()


def redis_client(timeout: float = SOCKET_TIMEOUT_SECONDS) -> redis.Redis:
    """A client of `REDIS_URL` whose every call gives up after `timeout` seconds."""
    key = (settings.REDIS_URL, timeout)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                health_check_interval=30,
            )
            _clients[key] = client
    return client


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def ops_key(*parts: str) -> str:
    return ":".join((settings.CHANNEL_PREFIX, "ops", *parts))


def _warn(what: str) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY_SECONDS:
        _last_warning = now
        log.warning("ops figures: %s (Redis unreachable?)", what, exc_info=True)


def _redis_usable() -> bool:
    return bool(settings.REDIS_URL) and time.monotonic() >= _redis_down_until


def _redis_failed(what: str) -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + RETRY_AFTER_SECONDS
    _warn(what)


# --- counters -----------------------------------------------------------------------------


def count(name: str, n: int = 1) -> None:
    """Add `n` to the counter `name`; never raises."""
    if n <= 0:
        return
    try:
        with _lock:
            _counts[name] += n
        if not _redis_usable():
            return
        with _lock:
            pending = dict(_counts)
            _counts.clear()
        try:
            pipe = redis_client().pipeline(transaction=False)
            for counter, value in pending.items():
                pipe.hincrby(ops_key("counters"), counter, value)
            pipe.execute()
        except Exception:
            with _lock:
                _counts.update(pending)
            _redis_failed(f"counter {name} kept in memory")
    except Exception:
        _warn(f"counter {name} not recorded")


def counted(runs: str, *, total: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """Decorate a sweep returning how many things it did: counts its runs and that total."""

    def decorate(func: Callable[P, int]) -> Callable[P, int]:
        @wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
            done = func(*args, **kwargs)
            count(runs)
            count(total, done)
            return done

        return wrapper

    return decorate


def counters() -> dict[str, int]:
    """Every counter's value (for all processes with Redis); raises when Redis fails."""
    if not settings.REDIS_URL:
        with _lock:
            return dict(_counts)
    raw = redis_client().hgetall(ops_key("counters"))
    return {_text(k): int(v) for k, v in raw.items()}


# --- WebSocket clients --------------------------------------------------------------------


def _process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def ws_opened(consumer: Any) -> None:
    """A socket was admitted (call once it is accepted); no I/O, never raises."""
    global _ws_open, _ws_changed
    with _lock:
        _ws_open += 1
        _ws_changed = True
    consumer.ops_counted = True


def ws_closed(consumer: Any) -> None:
    """A socket ended; counts only sockets `ws_opened` counted."""
    global _ws_open, _ws_changed
    if not getattr(consumer, "ops_counted", False):
        return
    consumer.ops_counted = False
    with _lock:
        _ws_open = max(0, _ws_open - 1)
        _ws_changed = True


def ws_publish(*, force: bool = False) -> bool:
    """Write this process's socket count to Redis when it changed (or `force`); sync, for a
    thread. Returns whether it wrote."""
    global _ws_changed
    if not settings.REDIS_URL:
        return False
    with _lock:
        if not (_ws_changed or force):
            return False
        value, _ws_changed = _ws_open, False
    try:
        redis_client().set(ops_key("ws", _process_id()), value, ex=WS_TTL_SECONDS)
    except Exception:
        with _lock:
            _ws_changed = True
        _warn("WebSocket count not published")
        return False
    return True


def ws_forget() -> None:
    """This process stops serving: its sockets no longer count."""
    if settings.REDIS_URL:
        try:
            redis_client().delete(ops_key("ws", _process_id()))
        except Exception:
            _warn("WebSocket count not removed")


def ws_clients() -> int:
    """Sockets open on every ASGI process (with Redis) or on this one; raises when Redis fails."""
    if not settings.REDIS_URL:
        with _lock:
            return _ws_open
    client = redis_client()
    keys = list(client.scan_iter(match=ops_key("ws", "*"), count=500))
    if not keys:
        return 0
    return sum(int(v) for v in client.mget(keys) if v is not None)


# --- heartbeats ---------------------------------------------------------------------------


def worker_beat(name: str, *, interval: float, at: float | None = None) -> None:
    """A background worker (Celery, `sms_worker`) is alive and expects to beat every
    `interval` seconds; never raises."""
    beat = (time.time() if at is None else at, float(interval))
    if not settings.REDIS_URL:
        with _lock:
            _worker_beats[name] = beat
        return
    try:
        payload = json.dumps({"at": beat[0], "interval": beat[1]})
        redis_client().hset(ops_key("heartbeats"), name, payload)
    except Exception:
        _warn(f"heartbeat of {name} not recorded")


def worker_beats() -> dict[str, Beat]:
    """The workers' last heartbeats; raises when Redis fails."""
    if not settings.REDIS_URL:
        with _lock:
            return {name: Beat(*beat) for name, beat in _worker_beats.items()}
    raw = redis_client().hgetall(ops_key("heartbeats"))
    beats: dict[str, Beat] = {}
    for name, value in raw.items():
        try:
            data = json.loads(value)
            beats[_text(name)] = Beat(float(data["at"]), float(data["interval"]))
        except (ValueError, KeyError, TypeError):
            continue
    return beats


def loop_started(name: str, *, interval: float) -> None:
    """An in-process loop (embedded mode) started: it counts as stale until its first run."""
    with _lock:
        _loop_beats.setdefault(name, (0.0, float(interval)))


def loop_beat(name: str, *, interval: float, at: float | None = None) -> None:
    """An in-process loop finished a round."""
    with _lock:
        _loop_beats[name] = (time.time() if at is None else at, float(interval))


def loop_stopped(name: str) -> None:
    with _lock:
        _loop_beats.pop(name, None)


def loop_beats() -> dict[str, Beat]:
    with _lock:
        return {name: Beat(*beat) for name, beat in _loop_beats.items()}


def reset() -> None:
    """Forget everything this process holds (tests)."""
    global _ws_open, _ws_changed, _redis_down_until, _last_warning
    with _lock:
        _counts.clear()
        _worker_beats.clear()
        _loop_beats.clear()
        _ws_open = 0
        _ws_changed = False
        _redis_down_until = 0.0
        _last_warning = 0.0
        _clients.clear()
