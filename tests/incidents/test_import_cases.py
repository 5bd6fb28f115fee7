"""`manage.py import_cases`: historical cases, checked whole, written with their lifecycle."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from alerts.models import SmsMessage
from command_center.csv_import import MAX_LISTED
from command_center.reports import monthly_report, window_for
from incidents.domain.case_import import OPTIONAL, REQUIRED
from incidents.domain.identifiers import credit_code_check_char, id_number_check_char
from incidents.models import (
    Case,
    CaseCounter,
    Clock,
    District,
    Enterprise,
    Event,
    Project,
    Report,
    StreamEntry,
    Unit,
)
from incidents.policy import actor_for
from incidents.services.event_chain import district_verify
from incidents.services.intake import Intake, case_register

HEADER = [*REQUIRED, *OPTIONAL]


def code(n: int) -> str:
    first = f"91330503MA{n:07d}"
    return first + credit_code_check_char(first)


def id_number(n: int) -> str:
    first = f"33050319900101{n % 1000:03d}"
    return first + id_number_check_char(first)


def row(n: int = 1, **cells: str) -> dict[str, str]:
    """A resolved case about employer `n`, registered and resolved in March 2025."""
    base = {
        "registered_at": "2025-03-03 09:30",
        "channel": "window",
        "complainant_name": f"工人{n}",
        "complainant_phone": f"1390000{n:04d}",
        "complainant_id_number": id_number(n),
        "employer_credit_code": code(n),
        "employer_name": f"劳务公司{n}",
        "town": "lianshi",
        "workers_count": "3",
        "amount_owed": "12000",
        "state": "resolved",
        "finished_at": "2025-03-10 16:00",
        "summary": f"第{n}件",
    }
    return {**base, **cells}


def write(
    tmp_path: Path,
    rows: Iterable[dict[str, str]],
    *,
    header: list[str] = HEADER,
    name: str = "cases.csv",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    path = tmp_path / name
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def run(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_cases", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(path: Path, *args: str) -> tuple[str, str]:
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_cases", str(path), *args, stdout=StringIO(), stderr=err)
    return str(caught.value), err.getvalue()


def nothing_stored() -> bool:
    return not (
        Case.objects.exists()
        or Event.objects.filter(case__isnull=False).exists()
        or Report.objects.exists()
        or Enterprise.objects.filter(credit_code__startswith="91330503MA").exists()
        or CaseCounter.objects.exists()
    )


def kinds(case: Case) -> list[tuple[str, str, str]]:
    return list(case.events.order_by("id").values_list("kind", "before", "after"))


def local(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


# --- a good file ----------------------------------------------------------------------------


def test_a_good_file_writes_each_case_with_its_lifecycle_at_historical_times(
    district: District, tmp_path: Path, sms_in_memory: Any
) -> None:
    Project.objects.create(district=district, name="练市大桥", code="JS-1", type="transport")
    path = write(
        tmp_path,
        [
            row(1),  # no project: the town answers (routing table)
            row(
                2,
                project_code="JS-1",
                state="closed",
                finished_at="2025-03-12",
                closed_at="2025-03-20T10:00:00+08:00",
                amount_paid="11,000.50",
                escalated="yes",
            ),
            row(3, state="rejected", reason="不属于欠薪", amount_owed="0"),
            row(4, unit="hrss", number="NX-2025-000777", complainant_phone="+86 139 0000 0004"),
        ],
    )
    out, err = run(path)
    assert "4 rows: 4 stored, 0 already held, 0 refused." in out
    assert "checking [" in err
    assert "importing [" in err
    assert "4/4 rows" in err

    lianshi = Unit.objects.get(district=district, code="lianshi")
    one = Case.objects.get(employer__credit_code=code(1))
    assert one.number == "NX-2025-000778"  # after the highest number the file gives
    assert (one.state, one.responsible_unit, one.town) == ("resolved", lianshi, lianshi)
    assert one.received_at == one.created_at == local("2025-03-03T09:30")
    assert one.finished_at == local("2025-03-10T16:00")
    assert one.amount_paid == Decimal("12000.00")
    assert one.closed_at is None
    assert kinds(one) == [
        ("case.registered", "", "registered"),
        ("case.dispatched", "registered", "dispatched"),
        ("case.accept", "dispatched", "accepted"),
        ("case.resolve", "accepted", "resolved"),
    ]
    assert [e.at for e in one.events.order_by("id")] == [
        local("2025-03-03T09:30"),
        local("2025-03-03T09:30"),
        local("2025-03-03T09:30"),
        local("2025-03-10T16:00"),
    ]
    registered = one.events.get(kind="case.registered")
    assert registered.data["channel"] == "window"
    assert registered.data["amount_owed"] == "12000.00"
    assert registered.data["construction"] is False
    assert registered.data["imported"] is True
    assert one.events.get(kind="case.resolve").data["unit_id"] == lianshi.pk
    assert one.slips.get().unit == lianshi
    report = one.reports.get()
    assert (report.complainant_phone, report.complainant_id_number) == (
        "13900000001",
        id_number(1),
    )
    assert one.employer.name == "劳务公司1"

    two = Case.objects.get(employer__credit_code=code(2))
    assert two.responsible_unit == Unit.objects.get(district=district, code="transport")
    assert two.project is not None
    assert two.project.code == "JS-1"
    assert (two.state, two.amount_paid) == ("closed", Decimal("11000.50"))
    assert two.finished_at == local("2025-03-12T00:00")
    assert two.closed_at == local("2025-03-20T10:00")
    assert kinds(two) == [
        ("case.registered", "", "registered"),
        ("case.dispatched", "registered", "dispatched"),
        ("case.accept", "dispatched", "accepted"),
        ("case.escalate_inspection", "accepted", "inspection"),
        ("case.resolve", "inspection", "resolved"),
        ("case.close", "resolved", "closed"),
    ]
    assert two.events.get(kind="case.registered").data["construction"] is True

    three = Case.objects.get(employer__credit_code=code(3))
    assert (three.state, three.responsible_unit, three.finished_at) == (
        "rejected",
        None,
        local("2025-03-10T16:00"),
    )
    assert kinds(three) == [
        ("case.registered", "", "registered"),
        ("case.reject", "registered", "rejected"),
    ]
    assert three.events.get(kind="case.reject").reason == "不属于欠薪"
    assert not three.slips.exists()

    four = Case.objects.get(number="NX-2025-000777")
    assert four.responsible_unit == Unit.objects.get(district=district, code="hrss")
    assert four.reports.get().complainant_phone == "13900000004"
    assert kinds(four)[1] == ("case.dispatch", "registered", "dispatched")

    # Over: no clock, no SMS, nothing in the live streams.
    assert not Clock.objects.exists()
    assert not SmsMessage.objects.exists()
    assert sms_in_memory.outbox == []
    assert not StreamEntry.objects.filter(event__case__isnull=False).exists()


def test_the_monthly_report_counts_imported_cases_in_their_months(
    district: District, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        [
            row(1, workers_count="4", amount_owed="1000"),
            row(2, channel="police_110", finished_at="2025-04-02 10:00"),
            row(3, escalated="yes", workers_count="5"),
            row(4, state="rejected", reason="重复投诉"),
            row(5, registered_at="2025-04-08", finished_at="2025-04-09"),
        ],
    )
    run(path)
    march = monthly_report(district_id=district.pk, window=window_for(date(2025, 3, 1)))
    assert march.receipts.cases_received == 4
    assert march.receipts.by_channel["window"] == 3
    assert march.receipts.by_channel["police_110"] == 1
    assert march.receipts.workers == 4 + 3 + 5 + 3
    assert march.receipts.amount_owed == Decimal("1000") + 3 * Decimal("12000")
    overall = march.closure.overall
    # 1, 2 and 3 were handled (4 was rejected); 2 was still open at the month's end.
    assert (overall.handled, overall.concluded, overall.self_resolved) == (3, 2, 1)
    assert march.closure.open_at_end == 1
    lianshi = Unit.objects.get(district=district, code="lianshi")
    assert march.closure.by_unit[lianshi.pk].handled == 3

    april = monthly_report(district_id=district.pk, window=window_for(date(2025, 4, 1)))
    assert april.receipts.cases_received == 1
    assert (april.closure.overall.handled, april.closure.overall.concluded) == (2, 2)


# --- running again --------------------------------------------------------------------------


def test_the_same_file_twice_stores_nothing_new(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, [row(1), row(2, number="NX-2025-000050"), row(3)])
    run(path)
    before = (
        list(Case.objects.order_by("pk").values_list("pk", "number")),
        Event.objects.count(),
        Report.objects.count(),
        Enterprise.objects.count(),
    )
    out, _err = run(path)
    assert "3 rows: 0 stored, 3 already held, 0 refused." in out
    after = (
        list(Case.objects.order_by("pk").values_list("pk", "number")),
        Event.objects.count(),
        Report.objects.count(),
        Enterprise.objects.count(),
    )
    assert after == before


def test_a_file_extended_later_adds_only_its_new_rows(district: District, tmp_path: Path) -> None:
    run(write(tmp_path, [row(1), row(2)]))
    out, _err = run(write(tmp_path, [row(1), row(2), row(3)], name="more.csv"))
    assert "3 rows: 1 stored, 2 already held, 0 refused." in out
    assert Case.objects.count() == 3


def test_a_row_twice_in_one_file_is_stored_once(district: District, tmp_path: Path) -> None:
    out, _err = run(write(tmp_path, [row(1), row(1), row(2)]))
    assert "3 rows: 2 stored, 1 already held, 0 refused." in out
    assert Case.objects.count() == 2


# --- case numbers ---------------------------------------------------------------------------


def test_given_numbers_keep_the_hubs_own_numbers_clear(district: District, tmp_path: Path) -> None:
    run(write(tmp_path, [row(1), row(2, number="NX-2025-000041"), row(3)]))
    numbers = set(Case.objects.values_list("number", flat=True))
    # The hub numbered the others after the highest number the file gives.
    assert numbers == {"NX-2025-000041", "NX-2025-000042", "NX-2025-000043"}
    assert CaseCounter.objects.get(district=district, year=2025).last == 43
    # Live intake in that year goes on after them.
    clerk = actor_for(User.objects.get(username="clerk_lianshi"))
    result = case_register(
        actor=clerk,
        intake=Intake(
            channel="window",
            complainant_name="张三",
            complainant_phone="13900009999",
            workers_count=1,
            amount_owed=Decimal("100"),
            employer_name="新公司",
            employer_credit_code=code(99),
            town="lianshi",
            received_at=datetime(2025, 6, 1, 2, tzinfo=UTC),
        ),
    )
    assert result.case.number == "NX-2025-000044"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("XX-2025-000001", "number: must look like NX-2025-000123"),
        ("NX-2024-000001", "number: must count in the year of registration (2025)"),
        ("NX-2025-1", "number: must look like"),
        ("NX-2025-000000", "number: must not end in 000000"),
    ],
)
def test_a_number_that_does_not_fit_the_districts_numbering_is_refused(
    district: District, tmp_path: Path, number: str, message: str
) -> None:
    _error, err = refused(write(tmp_path, [row(1), row(2, number=number)]))
    assert f"line 3: {message}" in err
    assert nothing_stored()


def test_a_number_already_held_by_another_case_is_refused(
    district: District, tmp_path: Path
) -> None:
    run(write(tmp_path, [row(1, number="NX-2025-000007")]))
    other = write(tmp_path, [row(2, number="NX-2025-000007")], name="other.csv")
    _error, err = refused(other)
    assert "line 2: number: is already used by another case" in err
    within = write(
        tmp_path, [row(3, number="NX-2025-000008"), row(4, number="NX-2025-000008")], name="w.csv"
    )
    _error, err = refused(within)
    assert "line 3: number: is given to another row too (line 2)" in err
    assert Case.objects.count() == 1


# --- refused rows ---------------------------------------------------------------------------

BAD_ROWS = [
    (row(11, registered_at="yesterday"), "registered_at: is not a date or time"),
    (row(12, channel="fax"), "channel: must be one of"),
    (row(13, complainant_phone="12345"), "complainant_phone: is not a mainland"),
    (row(14, complainant_id_number="330503199001011234"), "complainant_id_number: is not a valid"),
    (row(15, employer_credit_code="91330503MA0000001X"), "employer_credit_code: is not a valid"),
    (row(16, town="atlantis"), "town: no town has the code atlantis"),
    (row(17, unit="nobody"), "unit: no active unit has the code nobody"),
    (row(18, project_code="JS-404"), "project_code: no project has the code JS-404"),
    (row(19, workers_count="0"), "workers_count: must be from 1"),
    (row(20, amount_owed="-5"), "amount_owed: must be an amount in yuan, not negative"),
    (row(21, state="accepted"), "state: must be resolved, closed or rejected"),
    (row(22, finished_at="2025-03-01"), "finished_at: is before registered_at"),
    (row(23, state="rejected"), "reason: a rejected case needs the reason"),
    (row(24, finished_at="2099-01-01"), "finished_at: is in the future"),
    (row(25, complainant_name="=HYPERLINK(1)"), "complainant_name: looks like a spreadsheet"),
    (row(26, summary="@SUM(A1)"), "summary: looks like a spreadsheet formula"),
]


def _file_with_bad_rows(tmp_path: Path) -> Path:
    good = [row(n) for n in range(1, 6)]
    return write(tmp_path, [*good, *(r for r, _m in BAD_ROWS), row(6), row(7)])


def test_a_file_with_bad_rows_stores_nothing_and_names_each_line(
    district: District, tmp_path: Path
) -> None:
    error, err = refused(_file_with_bad_rows(tmp_path), "--batch", "2")
    rows = 7 + len(BAD_ROWS)
    assert (
        error
        == f"{rows} rows: 7 to store, 0 already held, {len(BAD_ROWS)} refused: nothing imported."
    )
    for line, (_r, message) in enumerate(BAD_ROWS, start=7):
        assert f"line {line}: {message}" in err
    assert nothing_stored()


def test_with_skip_bad_the_good_rows_are_stored_and_the_bad_listed(
    district: District, tmp_path: Path
) -> None:
    out, err = run(_file_with_bad_rows(tmp_path), "--batch", "2", "--skip-bad")
    assert f"7 stored, 0 already held, {len(BAD_ROWS)} refused" in out
    for line, (_r, message) in enumerate(BAD_ROWS, start=7):
        assert f"line {line}: {message}" in err
    assert set(Case.objects.values_list("employer__credit_code", flat=True)) == {
        code(n) for n in range(1, 8)
    }


def test_a_dry_run_checks_and_stores_nothing(district: District, tmp_path: Path) -> None:
    out, _err = run(write(tmp_path, [row(1), row(2)]), "--dry-run")
    assert "2 rows: 2 to store, 0 already held, 0 refused (dry run: nothing stored)." in out
    assert nothing_stored()
    assert not CaseCounter.objects.exists()
    _error, err = refused(write(tmp_path, [row(1, town="x")], name="b.csv"), "--dry-run")
    assert "line 2: town: no town has the code x" in err


def test_more_than_200_refused_rows_are_counted_after_the_first_200(
    district: District, tmp_path: Path
) -> None:
    extra = 9
    path = write(tmp_path, [row(n, workers_count="many") for n in range(MAX_LISTED + extra)])
    _error, err = refused(path)
    listed = [line for line in err.splitlines() if line.startswith("line ")]
    assert len(listed) == MAX_LISTED
    assert listed[0] == "line 2: workers_count: must be a whole number"
    assert f"… and {extra} more refused rows (first {MAX_LISTED} listed)." in err
    assert nothing_stored()


def test_a_huge_cell_is_refused(district: District, tmp_path: Path) -> None:
    _error, err = refused(write(tmp_path, [row(1, summary="欠" * 2001)]))
    assert "line 2: summary: is longer than 2000 characters" in err
    assert nothing_stored()


# --- whole-file refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ([h for h in HEADER if h != "state"], "missing columns: state"),
        ([*HEADER, "colour"], "unknown columns: colour"),
        ([*HEADER, "town"], "The header names a column twice: town"),
    ],
)
def test_a_wrong_header_refuses_the_file(
    district: District, tmp_path: Path, header: list[str], message: str
) -> None:
    error, _err = refused(write(tmp_path, [row(1)], header=header), "--skip-bad")
    assert message in error
    assert nothing_stored()


def test_a_gbk_file_from_excel_is_read_as_gbk(district: District, tmp_path: Path) -> None:
    good = write(tmp_path, [row(1), row(2)])
    path = tmp_path / "gbk.csv"
    path.write_bytes(good.read_text(encoding="utf-8").encode("gbk"))
    run(path)
    assert sorted(Report.objects.values_list("complainant_name", flat=True)) == ["工人1", "工人2"]


def test_a_file_neither_utf8_nor_gbk_is_refused_by_name(district: District, tmp_path: Path) -> None:
    good = write(tmp_path, [row(1), row(2)])
    path = tmp_path / "mixed.csv"
    path.write_bytes(good.read_bytes() + "工人3".encode("gbk") + b"\xff\r\n")
    error, _err = refused(path, "--skip-bad")
    assert "mixes encodings" in error
    path.write_bytes(b"\xff\xfe\x00" + good.read_bytes())
    error, _err = refused(path, "--skip-bad")
    assert "neither UTF-8 nor GBK" in error
    assert nothing_stored()


def test_broken_csv_and_empty_files_are_refused(district: District, tmp_path: Path) -> None:
    broken = write(tmp_path, [row(1), row(2, summary="x" * 200_000)])
    error, _err = refused(broken, "--skip-bad")
    assert "not valid CSV" in error
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    error, _err = refused(empty)
    assert error.startswith("The file is empty")
    error, _err = refused(tmp_path / "nowhere.csv")
    assert error.startswith("Cannot read ")
    assert nothing_stored()


def test_a_ragged_row_is_refused(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, [row(1)])
    path.write_text(path.read_text(encoding="utf-8") + "2025-03-03,window\r\n", encoding="utf-8")
    _error, err = refused(path)
    assert "line 3: row: has a different number of cells than the header" in err
    assert nothing_stored()


# --- volume ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_hundred_thousand_rows_import_completely_and_chain_their_events(
    district: District, tmp_path: Path
) -> None:
    rows = 100_000
    path = tmp_path / "big.csv"
    towns = ["lianshi", "shuanglin", "linghu", "hefu", "nanxun"]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            day = 1 + i % 28
            cells = row(
                i % 5000,
                registered_at=f"2024-{1 + i % 12:02d}-{day:02d} 09:{i % 60:02d}",
                finished_at=f"2024-{1 + i % 12:02d}-{day:02d} 17:00",
                town=towns[i % len(towns)],
                state=("resolved", "closed", "rejected")[i % 3],
                reason="重复" if i % 3 == 2 else "",
                summary=f"第{i}件",
            )
            writer.writerow([cells.get(h, "") for h in HEADER])
    started = time.perf_counter()
    out, _err = run(path)
    seconds = time.perf_counter() - started
    print(f"\n{rows:,} cases in {seconds:.1f} s: {rows / seconds:,.0f} rows/s")
    assert f"{rows} rows: {rows} stored, 0 already held, 0 refused." in out
    assert Case.objects.count() == rows
    assert Event.objects.filter(kind="case.registered").count() == rows
    started = time.perf_counter()
    out, _err = run(path)
    print(f"the same file again: {time.perf_counter() - started:.1f} s")
    assert f"{rows} rows: 0 stored, {rows} already held, 0 refused." in out
    # (The pace is printed, not asserted: speed is the benchmarks' business.)
    assert district_verify(district.pk).broken is None
