"""`manage.py import_roster`: all or nothing, errors by line."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from alerts.models import DutyShift, Officer


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_sets_who_is_on_duty(district: Any, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "day,unit,duty,name,phone\n"
        "2026-12-01,police,primary,张警官,138 0013 8001\n"
        "2026-12-01,police,backup,李警官,+86 138-0013-8002\n"
        "2026-12-02,police,primary,李警官,13800138002\n",
    )
    call_command("import_roster", str(path))
    shifts = DutyShift.objects.filter(unit__code="police").order_by("day", "rung")
    assert [(s.day, s.rung, s.officer.phone) for s in shifts] == [
        (date(2026, 12, 1), "backup", "+8613800138002"),
        (date(2026, 12, 1), "primary", "+8613800138001"),
        (date(2026, 12, 2), "primary", "+8613800138002"),
    ]
    assert Officer.objects.count() == 2


def test_a_file_with_a_wrong_row_imports_nothing_and_names_each_line(
    district: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "day,unit,duty,name,phone\n"
        "2026-12-01,police,primary,张警官,13800138001\n"
        "2026-12-01,nowhere,leader,王,123\n"
        "2026-13-01,police,captain,赵,13800138003\n",
    )
    with pytest.raises(CommandError, match="2 wrong rows"):
        call_command("import_roster", str(path))
    errors = capsys.readouterr().err
    assert "line 3: unknown unit 'nowhere'" in errors
    assert "phone '123' is not a mobile number" in errors
    assert "line 4: day '2026-13-01'" in errors
    assert "duty 'captain'" in errors
    assert not DutyShift.objects.exists()
    assert not Officer.objects.exists()


def test_a_file_without_the_columns_is_refused(district: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "date,who\n2026-12-01,张\n")
    with pytest.raises(CommandError):
        call_command("import_roster", str(path))
    assert not DutyShift.objects.exists()


def test_an_officer_typed_in_the_admin_gets_an_e164_number(district: Any) -> None:
    from django.core.exceptions import ValidationError

    officer = Officer(district=district, name="张警官", phone="138 0013 8001")
    officer.full_clean()
    assert officer.phone == "+8613800138001"
    landline = Officer(district=district, name="值班室", phone="0572-2123456")
    with pytest.raises(ValidationError):
        landline.full_clean()
