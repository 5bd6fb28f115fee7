"""Bar charts drawn on the server as SVG geometry: no chart script, nothing to load."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 640
BAR_AREA = 180
LABEL_SPACE = 40


@dataclass(frozen=True)
class Bar:
    label: str
    value: str
    x: float
    y: float
    width: float
    height: float
    text_x: float
    marked: bool = False


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    baseline: float
    target_y: float | None = None


def bar_chart(
    items: Sequence[tuple[str, float | int | Decimal]],
    *,
    target: float | None = None,
    below_target_marked: bool = False,
    percent: bool = False,
) -> Chart:
    """Vertical bars scaled to the largest value (or the target, if higher); values below 0
    (a score can be) draw no bar. `percent` shows values as shares of 1."""
    count = max(len(items), 1)
    slot = WIDTH / count
    top = max([float(v) for _label, v in items] + [float(target or 0), 0.0]) or 1.0
    bars = []
    for i, (label, value) in enumerate(items):
        height = BAR_AREA * max(float(value), 0.0) / top
        x = i * slot + slot * 0.15
        marked = below_target_marked and target is not None and float(value) < target
        bars.append(
            Bar(
                label=label,
                value=f"{float(value):.0%}" if percent else str(value),
                x=round(x, 1),
                y=round(BAR_AREA - height + 20, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                text_x=round(x + slot * 0.35, 1),
                marked=marked,
            )
        )
    target_y = None if target is None else round(BAR_AREA - BAR_AREA * target / top + 20, 1)
    return Chart(
        bars=bars,
        width=WIDTH,
        height=BAR_AREA + 20 + LABEL_SPACE,
        baseline=BAR_AREA + 20,
        target_y=target_y,
    )
