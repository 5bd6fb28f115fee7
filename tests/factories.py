"""Builders for valid intake payloads and identifiers, for tests."""

from __future__ import annotations

import itertools
from typing import Any

from incidents.domain.identifiers import credit_code_check_char, id_number_check_char

_serial = itertools.count(1)


def credit_code(n: int | None = None) -> str:
    """A valid unified social credit code, distinct for each `n` (or each call)."""
    n = next(_serial) if n is None else n
    body = f"91330503MA{n:07d}"
    return body + credit_code_check_char(body)


def id_number(birth: str = "19850312", seq: int = 123) -> str:
    body = f"330503{birth}{seq:03d}"
    return body + id_number_check_char(body)


def intake_payload(**overrides: Any) -> dict[str, Any]:
    """A valid POST /api/v1/cases body; keyword arguments replace top-level fields."""
    payload: dict[str, Any] = {
        "channel": "window",
        "window": "lianshi",
        "complainant": {"name": "王建国", "phone": "13812345678", "id_number": id_number()},
        "workers_count": 12,
        "amount_owed": "86000.00",
        "employer": {"name": "湖州宏达建筑劳务有限公司", "credit_code": credit_code()},
        "project": {"name": "练市新城", "type": "real_estate"},
        "town": "lianshi",
        "location": {"lat": 30.713, "lng": 120.429},
        "description": "12名木工被拖欠三个月工资",
    }
    payload.update(overrides)
    return payload
