"""What the early-warning tests share: credit codes of their own, months back from today."""

from __future__ import annotations

from django.utils import timezone

from incidents.domain.identifiers import credit_code_check_char
from incidents.models import District


def credit_code(n: int, *, base: int) -> str:
    """A valid credit code numbered from `base` (each test file keeps to its own range, away
    from the factories' codes)."""
    first = f"91330503MA{base + n:07d}"
    return first + credit_code_check_char(first)


def month_back(back: int) -> str:
    """The month `back` months before this one (local time), as "YYYY-MM"."""
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def district_id() -> int:
    return District.objects.values_list("pk", flat=True).get()
