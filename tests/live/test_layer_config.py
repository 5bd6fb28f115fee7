"""The channel layer as production configures it: the known traps of channels_redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def layers_with(**env: str) -> dict[str, object]:
    code = (
        "import json; from django.conf import settings; print(json.dumps(settings.CHANNEL_LAYERS))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CHANNEL_"))}
    done = subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, str(MANAGE), "shell", "-c", code],
        env={**base, **env},
        cwd=MANAGE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["default"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("layer", ["pubsub", "core"])
def test_redis_sockets_outlast_the_layers_own_polls(layer: str) -> None:
    """redis-py 8 times sockets out after 5 s by default, as long as the core layer's
    blocking pop: idle consumers were dropped (channels_redis issue 422)."""
    config = layers_with(REDIS_URL="redis://127.0.0.1:6379/0", CHANNEL_LAYER=layer)
    host = config["CONFIG"]["hosts"][0]  # type: ignore[index]
    assert host["address"] == "redis://127.0.0.1:6379/0"
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
    assert host["socket_keepalive"] is True
    backend = config["BACKEND"]
    assert backend.endswith("RedisChannelLayer" if layer == "core" else "RedisPubSubChannelLayer")


def test_layer_capacity_is_sized_above_the_default() -> None:
    """The core and in-memory layers drop group messages past `capacity` (default 100)."""
    core = layers_with(REDIS_URL="redis://127.0.0.1:6379/0", CHANNEL_LAYER="core")
    memory = layers_with()
    assert core["CONFIG"]["capacity"] >= 1000  # type: ignore[index]
    assert memory["CONFIG"]["capacity"] >= 1000  # type: ignore[index]
    assert memory["BACKEND"] == "channels.layers.InMemoryChannelLayer"
