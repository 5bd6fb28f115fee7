"""`manage.py playbook_import` and `playbook_export`: all or nothing, every problem named with
its file, and an export that imports back unchanged."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command

from incidents.models import District
from playbooks.models import PlaybookStep, PlaybookTemplate, PlaybookVersion

GOOD = """\
# A gathering at a site, level IV–III.
key: site_gathering
name: 现场聚集 / Site gathering
version: 1
kinds: [site_gathering]
levels: [IV, III]
steps:
  - key: police_order
    title_zh: 公安维持秩序
    title_en: Police keep order
    owner: police
    due_minutes: 15
  - key: wages_paid
    title_zh: 现场发放工资
    title_en: Wages paid on site
    owner: hrss
    due_minutes: 480
    evidence: number
    evidence_label: 金额（元）/ yuan
"""

SECOND = """\
key: road_blocking
name: 堵路 / Road blocking
kinds: [road_blocking]
levels: [II, I]
steps:
  - key: first_report
    title_zh: 首报
    title_en: First report
    owner: command
    due_minutes: 30
"""


def write(tmp_path: Path, text: str, name: str = "playbooks.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def counts() -> tuple[int, int, int]:
    return (
        PlaybookTemplate.objects.count(),
        PlaybookStep.objects.count(),
        PlaybookVersion.objects.count(),
    )


# --- import -----------------------------------------------------------------------------------


def test_a_good_file_is_imported(district: District, tmp_path: Path) -> None:
    out, _ = run("playbook_import", str(write(tmp_path, GOOD + "---\n" + SECOND)))
    assert out.splitlines() == [
        "site_gathering: created (version 1)",
        "road_blocking: created (version 1)",
        "Imported 2 templates.",
    ]
    template = PlaybookTemplate.objects.get(key="site_gathering")
    assert [s.key for s in template.steps.order_by("position")] == ["police_order", "wages_paid"]
    assert template.steps.get(key="wages_paid").evidence == "number"
    assert PlaybookVersion.objects.get(template=template).source == "import"


def test_a_file_saved_with_a_byte_order_mark_is_read(district: District, tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_text(GOOD, encoding="utf-8-sig")
    out, _ = run("playbook_import", str(path))
    assert "site_gathering: created (version 1)" in out


def test_importing_a_file_again_or_changed(district: District, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    run("playbook_import", str(path))
    out, _ = run("playbook_import", str(path))
    assert out.splitlines()[0] == "site_gathering: unchanged (version 1)"
    path.write_text(GOOD.replace("due_minutes: 15", "due_minutes: 20"), encoding="utf-8")
    out, _ = run("playbook_import", str(path))
    assert out.splitlines()[0] == "site_gathering: updated (version 2)"
    assert PlaybookVersion.objects.count() == 2


def test_a_bad_file_imports_nothing_and_names_every_problem(
    district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = GOOD.replace("owner: police", "owner: nowhere").replace("levels: [IV, III]", "levels: []")
    path = write(tmp_path, SECOND + "---\n" + bad, name="bad.yaml")
    with pytest.raises(CommandError, match=r"^2 problems: nothing imported\.$"):
        call_command("playbook_import", str(path))
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        f"{path}: template 2: levels: give a list of at least one of I, II, III, IV",
        f"{path}: template 2: steps[0].owner: unknown unit 'nowhere' "
        "(a unit code or 'command' or 'town')",
    ]
    assert counts() == (0, 0, 0)


def test_a_file_of_bad_yaml_names_the_line(
    district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "key: a\nname: x\n  bad: indent\n")
    with pytest.raises(CommandError, match="1 problems: nothing imported"):
        call_command("playbook_import", str(path))
    (error,) = capsys.readouterr().err.splitlines()
    assert error.startswith(f"{path}: line 3, column 6: not valid YAML")
    assert counts() == (0, 0, 0)


def test_a_missing_file_is_refused(district: District, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.yaml"):
        call_command("playbook_import", str(tmp_path / "missing.yaml"))


def test_a_file_not_in_utf8_is_refused(district: District, tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("playbook_import", str(path))
    assert counts() == (0, 0, 0)


def test_the_defaults_are_imported(district: District) -> None:
    out, _ = run("playbook_import", "--defaults")
    assert sorted(out.splitlines()[:-1]) == [
        "gathering_ii_i: created (version 1)",
        "holiday_colocation: created (version 1)",
        "site_gathering_iv_iii: created (version 1)",
    ]
    assert out.splitlines()[-1] == "Imported 3 templates."
    assert set(PlaybookVersion.objects.values_list("source", flat=True)) == {"defaults"}
    out, _ = run("playbook_import", "--defaults")
    assert out.count("unchanged (version 1)") == 3


@pytest.mark.parametrize("args", [(), ("--defaults", "FILE")])
def test_a_file_or_the_defaults_and_not_both(
    district: District, tmp_path: Path, args: tuple[str, ...]
) -> None:
    path = str(write(tmp_path, GOOD))
    with pytest.raises(CommandError, match=r"Give a YAML file, or --defaults\."):
        call_command("playbook_import", *[path if a == "FILE" else a for a in args])
    assert counts() == (0, 0, 0)


def test_force_imports_a_file_older_than_the_hub(
    district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path, GOOD, name="old.yaml")
    run("playbook_import", str(old))
    newer = GOOD.replace("公安维持秩序", "公安到场")
    run("playbook_import", str(write(tmp_path, newer, name="new.yaml")))
    # The old file says version 1 and other titles: it would undo the edit.
    with pytest.raises(CommandError, match="2 problems: nothing imported"):
        call_command("playbook_import", str(old))
    assert capsys.readouterr().err.splitlines() == [
        f"{old}: site_gathering: the file is version 1, the hub has version 2",
        f"{old}: export again, or import with --force to overwrite",
    ]
    assert PlaybookStep.objects.get(key="police_order").title_zh == "公安到场"
    out, _ = run("playbook_import", "--force", str(old))
    assert out.splitlines()[0] == "site_gathering: updated (version 3)"
    assert PlaybookStep.objects.get(key="police_order").title_zh == "公安维持秩序"


def test_a_district_must_be_named_when_there_are_several(
    district: District, tmp_path: Path
) -> None:
    District.objects.create(code="other", case_prefix="OT", name_zh="外区", name_en="Other")
    path = str(write(tmp_path, GOOD))
    with pytest.raises(CommandError, match="--district"):
        call_command("playbook_import", path)
    out, _ = run("playbook_import", path, "--district", district.code)
    assert "site_gathering: created (version 1)" in out
    assert PlaybookTemplate.objects.get().district == district
    with pytest.raises(CommandError, match="--district"):
        call_command("playbook_export")
    with pytest.raises(CommandError, match="--district"):
        call_command("playbook_import", path, "--district", "nowhere")


# --- export -----------------------------------------------------------------------------------


def test_an_export_to_a_file_imports_back_unchanged(
    district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("playbook_import", "--defaults")
    run("playbook_import", str(write(tmp_path, GOOD)))
    target = tmp_path / "export.yaml"
    call_command("playbook_export", "-o", str(target))
    assert capsys.readouterr().err.strip() == f"Wrote 4 templates to {target}."
    documents = list(yaml.safe_load_all(target.read_text(encoding="utf-8")))
    assert [d["key"] for d in documents] == [
        "gathering_ii_i",
        "holiday_colocation",
        "site_gathering",
        "site_gathering_iv_iii",
    ]
    before = counts()
    out, _ = run("playbook_import", str(target))
    assert out.splitlines()[:-1] == [
        "gathering_ii_i: unchanged (version 1)",
        "holiday_colocation: unchanged (version 1)",
        "site_gathering: unchanged (version 1)",
        "site_gathering_iv_iii: unchanged (version 1)",
    ]
    assert counts() == before


def test_an_export_to_stdout_of_named_templates(district: District) -> None:
    run("playbook_import", "--defaults")
    out, err = run("playbook_export", "holiday_colocation")
    assert err == ""
    (document,) = yaml.safe_load_all(out)
    assert document["key"] == "holiday_colocation"
    assert document["trigger"] == "sensitive_period"
    assert "集中办公" in out  # written as it reads, not as \u escapes


def test_an_export_of_an_unknown_key_is_refused(district: District, tmp_path: Path) -> None:
    run("playbook_import", "--defaults")
    target = tmp_path / "export.yaml"
    with pytest.raises(CommandError, match=r"^no template 'nothing'$"):
        call_command("playbook_export", "holiday_colocation", "nothing", "-o", str(target))
    assert not target.exists()
