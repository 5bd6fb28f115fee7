"""CSV files as people hand them over: GBK from Excel, BOMs, mixed encodings, huge cells,
formulas, and random bytes.

The shared reader (`command_center.csv_import`) decodes UTF-8 (with or without a BOM) and
GB18030/GBK, refuses by name a file that is neither or that mixes them, and refuses a huge
line before holding it; every importer (cases, indicator readings, rosters by command and
by the upload page) goes through it. Formula-like cells are stored as the text they are
and neutralised when exported again (CSV and XLSX).
"""

from __future__ import annotations

import csv
import io
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from alerts.models import DutyShift, Officer, Reading
from command_center.csv_import import (
    MAX_LINE_CHARS,
    EncodingRefused,
    RowRefusals,
    csv_rows,
    decode_csv,
    open_csv,
)
from command_center.exports import FORMULA_START, cell_safe, csv_response, xlsx_response
from incidents.domain.identifiers import credit_code_check_char
from incidents.models import District, Event
from incidents.policy import actor_for
from incidents.services import room_chat
from tests.fuzz.conftest import World, fuzz_settings

ROSTER = "day,unit,duty,name,phone\n2026-12-01,police,primary,张警官,13800138001\n"
FORMULAS = [
    '=HYPERLINK("http://evil.example","点击")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1",
]


def read_all(path: Path) -> tuple[list[dict[str, Any]], RowRefusals]:
    """The rows of a file through the shared reader, and its refusals (as importers do)."""
    report = RowRefusals()
    rows: list[dict[str, Any]] = []
    try:
        with open_csv(path) as lines:
            rows = [row for _line, row in csv_rows(lines, report, required=["a"], optional=["b"])]
    except (UnicodeDecodeError, csv.Error) as exc:
        report.file_failed(exc)
    return rows, report


# --- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"], ids=["utf8", "bom", "gbk", "gb18030"]
)
def test_chinese_text_is_read_the_same_in_every_encoding_excel_saves(
    tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("a,b\r\n张三,湖州宏达建筑劳务有限公司\r\n".encode(encoding))

    rows, report = read_all(path)

    assert report.file_error == ""
    assert rows == [{"a": "张三", "b": "湖州宏达建筑劳务有限公司"}]
    assert decode_csv(path.read_bytes()) == "a,b\r\n张三,湖州宏达建筑劳务有限公司\r\n"


def test_utf8_chinese_then_gbk_is_refused_as_mixed_not_stored_as_mojibake(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("a,b\n张三,1\n".encode() + "李四,2\n".encode("gbk"))

    rows, report = read_all(path)

    assert rows == []
    assert "mixes encodings" in report.file_error
    assert "line 3" in report.file_error


def test_bytes_that_are_neither_utf8_nor_gb18030_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n\x81\x20,1\n")

    _rows, report = read_all(path)

    assert "neither UTF-8 nor GBK/GB18030" in report.file_error
    with pytest.raises(EncodingRefused, match="neither UTF-8 nor GBK"):
        decode_csv(b"a,b\n\x81\x20,1\n")


# --- huge input -----------------------------------------------------------------------------


def test_a_10_mb_cell_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("a,b\n1,")
        f.write("x" * 10_000_000)
        f.write("\n")

    tracemalloc.start()
    try:
        rows, report = read_all(path)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert rows == []
    assert f"longer than {MAX_LINE_CHARS:,} characters" in report.file_error
    assert peak < 5_000_000  # a few 1 MB pieces of the line, never its 10 MB


def test_a_huge_cell_in_a_roster_upload_is_a_form_error(district: District) -> None:
    client = Client()
    client.force_login(User.objects.get(username="command"))
    big = ROSTER + "2026-12-02,police,primary,王" + "x" * 200_000 + ",13800138002\n"

    response = client.post("/alerts/roster/", {"file": SimpleUploadedFile("r.csv", big.encode())})

    assert response.status_code == 400
    assert "longer than" in response.content.decode()
    assert not DutyShift.objects.exists()


@fuzz_settings(quick=60)
@given(data=st.binary(max_size=300))
def test_random_bytes_give_rows_or_a_clean_refusal(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_bytes(b"a,b\n" + data)
        _rows, report = read_all(path)
    assert isinstance(report.file_error, str)
    refused: EncodingRefused | None = None
    try:
        text = decode_csv(b"a,b\n" + data)
    except EncodingRefused as exc:
        refused = exc
    if refused is not None:
        assert report.file_error == str(refused)
    else:
        assert "\ufffd" not in text or "\ufffd".encode() in data  # never a replacement char


# --- the importers --------------------------------------------------------------------------


def test_a_gbk_roster_from_excel_is_imported_by_command_and_upload(
    district: District, tmp_path: Path
) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(ROSTER.encode("gbk"))
    call_command("import_roster", str(path), stdout=io.StringIO())
    assert Officer.objects.get().name == "张警官"

    client = Client()
    client.force_login(User.objects.get(username="command"))
    gbk = ROSTER.replace("张警官", "李警官").replace("13800138001", "13800138009")
    response = client.post(
        "/alerts/roster/", {"file": SimpleUploadedFile("r.csv", gbk.encode("gbk"))}
    )
    assert response.status_code == 302
    assert Officer.objects.filter(name="李警官").exists()


def test_a_roster_in_no_known_encoding_is_refused_by_command_and_upload(
    district: District, tmp_path: Path
) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(ROSTER.encode() + "李四".encode("gbk") + b"\n")
    with pytest.raises(CommandError, match="mixes encodings"):
        call_command("import_roster", str(path))
    client = Client()
    client.force_login(User.objects.get(username="command"))
    response = client.post(
        "/alerts/roster/", {"file": SimpleUploadedFile("r.csv", b"\x81\x20" + ROSTER.encode())}
    )
    assert response.status_code == 400
    assert not Officer.objects.exists()


def code(n: int) -> str:
    first = f"91330503MA{n:07d}"
    return first + credit_code_check_char(first)


def test_formula_cells_in_indicator_readings_are_stored_as_text(
    district: District, tmp_path: Path
) -> None:
    path = tmp_path / "r.csv"
    rows = [
        f'power,"{f.replace(chr(34), chr(34) * 2)}",{code(n)},,electricity_kwh,2025-03,1200'
        for n, f in enumerate(FORMULAS[:4], start=1)
    ]
    path.write_text(
        "source,id,credit_code,project,indicator,period,value\n" + "\n".join(rows) + "\n",
        encoding="gbk",
    )
    call_command("import_indicators", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert sorted(Reading.objects.values_list("external_id", flat=True)) == sorted(FORMULAS[:4])


# --- exports --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formula_like_cell_is_exported_with_an_apostrophe(text: str) -> None:
    assert text.startswith(FORMULA_START)
    assert cell_safe(text) == "'" + text
    assert cell_safe(-1) == -1  # numbers stay numbers


def test_formula_cells_are_neutralised_in_csv_and_xlsx_downloads() -> None:
    rows = [[f, 3] for f in FORMULAS]

    text = csv_response("t", ["=header", "n"], rows).content.decode("utf-8-sig")
    cells = list(csv.reader(io.StringIO(text)))
    assert cells[0] == ["'=header", "n"]
    assert [c[0] for c in cells[1:]] == ["'" + f for f in FORMULAS]

    book = load_workbook(io.BytesIO(xlsx_response("t", [("s", ["h", "n"], rows)]).content))
    sheet = book.worksheets[0]
    values = [sheet.cell(row=i + 2, column=1) for i in range(len(FORMULAS))]
    assert [c.value for c in values] == ["'" + f for f in FORMULAS]
    assert {c.data_type for c in values} == {"s"}  # text, not a formula


def test_a_formula_said_in_an_incident_room_is_neutralised_in_its_activity_export(
    world: World,
) -> None:
    command = actor_for(User.objects.get(username="command"))
    room_chat(actor=command, incident_id=world.incident.pk, text=FORMULAS[0])
    assert Event.objects.filter(data__text=FORMULAS[0]).exists()  # stored as said
    client = Client()
    client.force_login(User.objects.get(username="command"))

    response = client.get(f"/incidents/{world.incident.pk}/activity/", {"format": "csv"})

    assert response.status_code == 200
    cells = [
        c for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig"))) for c in row
    ]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    assert any(FORMULAS[0] in c for c in cells)
