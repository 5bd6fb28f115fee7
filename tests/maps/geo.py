"""Plain geometry for checking the maps' answers (no database)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise


def ring_contains(ring: Sequence[Sequence[float]], x: float, y: float) -> bool:
    """Whether (x, y) is inside a closed ring of [x, y] positions (ray casting, even-odd)."""
    inside = False
    for (x1, y1), (x2, y2) in pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
