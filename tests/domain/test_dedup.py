"""One complaint, one case: which open case of the employer a new report joins."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.domain.dedup import OpenCase, find_merge_target

T0 = datetime(2026, 1, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def case(case_id: int, project_id: int | None, hours: int = 0) -> OpenCase:
    return OpenCase(case_id=case_id, project_id=project_id, received_at=T0 + timedelta(hours=hours))


def test_no_open_case_means_a_new_case() -> None:
    assert find_merge_target(7, []) is None
    assert find_merge_target(None, []) is None


def test_report_joins_the_open_case_of_the_same_project() -> None:
    assert find_merge_target(7, [case(1, 7)]) == 1


def test_exact_project_wins_over_a_projectless_case() -> None:
    # The project-less case is more recent, but the project match ranks first.
    cases = [case(1, 7, hours=0), case(2, None, hours=5)]
    assert find_merge_target(7, cases) == 1
    assert find_merge_target(7, list(reversed(cases))) == 1


def test_report_with_a_project_joins_a_projectless_case_when_nothing_matches_better() -> None:
    assert find_merge_target(7, [case(1, None)]) == 1
    assert find_merge_target(7, [case(1, 8), case(2, None)]) == 2


def test_report_without_a_project_joins_the_most_recent_open_case() -> None:
    cases = [case(1, 7, hours=1), case(2, None, hours=3), case(3, 8, hours=2)]
    assert find_merge_target(None, cases) == 2


def test_report_without_a_project_joins_a_case_with_a_project() -> None:
    assert find_merge_target(None, [case(1, 7, hours=4), case(2, None, hours=1)]) == 1


def test_among_cases_of_the_same_project_the_most_recent_wins() -> None:
    cases = [case(1, 7, hours=1), case(2, 7, hours=9), case(3, 7, hours=4)]
    assert find_merge_target(7, cases) == 2


def test_ties_on_time_go_to_the_higher_case_id() -> None:
    assert find_merge_target(7, [case(4, 7), case(9, 7), case(2, 7)]) == 9


@pytest.mark.parametrize("project_id", [8, 9])
def test_different_projects_never_merge(project_id: int) -> None:
    assert find_merge_target(project_id, [case(1, 7), case(2, 10, hours=2)]) is None


def test_input_order_does_not_matter() -> None:
    cases = [case(1, None, hours=1), case(2, 7, hours=2), case(3, 8, hours=3), case(4, 7)]
    assert find_merge_target(7, cases) == 2
    assert find_merge_target(7, reversed(cases)) == 2
    assert find_merge_target(7, iter(cases)) == 2
