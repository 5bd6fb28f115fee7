"""One complaint, one case (多次投诉 → 一次登记): which open case a new report joins.

A report joins an open case of the same employer when both name the same project, or when
either names none (a worker calling 110 rarely knows the project's registered name). An
exact project match wins over a case without a project; among equals, the most recent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class OpenCase:
    case_id: int
    project_id: int | None
    received_at: datetime


def find_merge_target(project_id: int | None, open_cases: Iterable[OpenCase]) -> int | None:
    """The id of the case a report about `project_id` merges into, or None for a new case.

    `open_cases` are the employer's open cases.
    """
    best: tuple[int, datetime, int] | None = None
    for case in open_cases:
        if project_id is not None and case.project_id == project_id:
            rank = 2
        elif project_id is None or case.project_id is None:
            rank = 1
        else:
            continue
        key = (rank, case.received_at, case.case_id)
        if best is None or key > best:
            best = key
    return best[2] if best else None
