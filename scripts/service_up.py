"""Exit 0 when a service answers: `service_up.py postgres URL` or `service_up.py redis URL`."""

from __future__ import annotations

import sys


def main() -> int:
    kind, url = sys.argv[1], sys.argv[2]
    try:
        if kind == "postgres":
            import psycopg

            with psycopg.connect(url.replace("/hub", "/postgres"), connect_timeout=3):
                return 0
        if kind == "redis":
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=3).ping()
            return 0
    except Exception as exc:
        print(f"{kind} not reachable at {url}: {exc}", file=sys.stderr)
        return 1
    print(f"unknown service {kind!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
