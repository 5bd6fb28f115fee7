"""One SMS rate for every worker: a GCRA limiter in Redis, or in-process without Redis.

GCRA (the generic cell rate algorithm) keeps one timestamp per key: the theoretical arrival
time of the next message. A Lua script reads and moves it atomically, so any number of
worker processes share `SMS_RATE_PER_SECOND` exactly. If Redis fails, the limiter falls
back to the in-process one (logged) rather than stop sending alerts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

# Returns the milliseconds to wait before the caller may send (0: send now).
_GCRA = """
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now_us then tat = now_us end
local wait = tat - now_us
redis.call('SET', key, tat + interval, 'PX', math.ceil((wait + interval) / 1000) + 1000)
return math.floor(wait / 1000)
"""


class LocalRateLimiter:
    """Spaces calls `1/rate` seconds apart within one process."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; returns how many seconds to wait for it."""
        with self._lock:
            now = self.clock()
            slot = max(self._next, now)
            self._next = slot + self.interval
            return slot - now

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            self.sleep(wait)


class RedisRateLimiter:
    """Spaces calls `1/rate` seconds apart across every process sharing one Redis key."""

    def __init__(self, url: str, rate: float, *, key: str = "hub:sms:rate") -> None:
        import redis

        self.client: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.interval_us = int(1_000_000 / rate) if rate > 0 else 0
        self.key = key
        self.script = self.client.register_script(_GCRA)
        self.fallback = LocalRateLimiter(rate)

    def reserve(self) -> float:
        if self.interval_us == 0:
            return 0.0
        try:
            return int(self.script(keys=[self.key], args=[self.interval_us])) / 1000
        except Exception:
            log.warning("SMS rate limiter: Redis unavailable, limiting in this process only")
            return self.fallback.reserve()

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)


_limiters: dict[tuple[str, float], LocalRateLimiter | RedisRateLimiter] = {}
_limiters_lock = threading.Lock()


def rate_limiter() -> LocalRateLimiter | RedisRateLimiter:
    """The process's limiter for the configured rate (shared through Redis when configured)."""
    url, rate = settings.REDIS_URL or "", float(settings.SMS_RATE_PER_SECOND)
    with _limiters_lock:
        limiter = _limiters.get((url, rate))
        if limiter is None:
            limiter = RedisRateLimiter(url, rate) if url else LocalRateLimiter(rate)
            _limiters[(url, rate)] = limiter
        return limiter
