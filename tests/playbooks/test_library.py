"""The district's playbook library: YAML read and checked whole, templates saved as versions
(all of a file or none of it), exports that import back unchanged, the shipped defaults, and
running checklists that keep the version they started from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from incidents.models import District, Incident
from incidents.policy import Actor
from incidents.services import IncidentChange, incident_transition
from playbooks.domain.templates import TemplateError, template_from_dict, template_to_dict
from playbooks.models import Checklist, PlaybookStep, PlaybookTemplate, PlaybookVersion
from playbooks.services import (
    Saved,
    default_documents,
    playbooks_export,
    playbooks_install_defaults,
    playbooks_save,
    templates_check,
    yaml_documents,
    yaml_dump,
)
from playbooks.services.library import district_units
from tests.live.helpers import incident_open


def doc(key: str = "site_gathering", **overrides: Any) -> dict[str, Any]:
    """A good template document, as read from YAML."""
    raw: dict[str, Any] = {
        "key": key,
        "name": "现场聚集 / Site gathering",
        "version": 1,
        "trigger": "incident",
        "kinds": ["site_gathering"],
        "levels": ["IV", "III"],
        "steps": [
            {
                "key": "police_order",
                "title_zh": "公安维持秩序",
                "title_en": "Police keep order",
                "owner": "police",
                "due_minutes": 15,
                "sms": True,
            },
            {
                "key": "hr_verify",
                "title_zh": "人社核实欠薪",
                "title_en": "HR verifies the arrears",
                "owner": "hrss",
                "due_minutes": 60,
                "evidence": "attachment",
                "evidence_label": "工资名册 / wage roster",
            },
        ],
    }
    raw.update(overrides)
    return raw


def with_step(raw: dict[str, Any], n: int, **changes: Any) -> dict[str, Any]:
    steps = [dict(s) for s in raw["steps"]]
    steps[n].update(changes)
    return {**raw, "steps": steps}


def save(district: District, *documents: Any, force: bool = False) -> list[Saved]:
    return playbooks_save(list(documents), district_id=district.pk, source="import", force=force)


def problems_of(call: Callable[[], object]) -> list[str]:
    with pytest.raises(TemplateError) as caught:
        call()
    return caught.value.problems


def counts() -> tuple[int, int, int]:
    return (
        PlaybookTemplate.objects.count(),
        PlaybookStep.objects.count(),
        PlaybookVersion.objects.count(),
    )


# --- reading YAML ---------------------------------------------------------------------------


def test_yaml_documents_reads_each_template_of_a_file() -> None:
    text = "key: a\nname: A\n---\n# a comment\nkey: b\nname: B\n"
    assert yaml_documents(text) == [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("key: a\nname: x\nsteps: [\n  - key: b\n", "line 4, column 3: not valid YAML"),
        ("key: a\nname: x\n  bad: indent\n", "line 3, column 6: not valid YAML"),
        ("key: a\n\tname: x\n", "line 2, column 1: not valid YAML"),
    ],
)
def test_bad_yaml_is_refused_naming_the_line(text: str, where: str) -> None:
    (problem,) = problems_of(lambda: yaml_documents(text))
    assert problem.startswith(where), problem


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n---\n"])
def test_a_file_without_a_template_is_refused(text: str) -> None:
    assert problems_of(lambda: yaml_documents(text)) == ["the file holds no template"]


def test_a_file_of_too_many_templates_is_refused() -> None:
    text = "---\n".join(f"key: t{n}\n" for n in range(51))
    assert problems_of(lambda: yaml_documents(text)) == ["at most 50 templates in one file"]


# --- checking a file ------------------------------------------------------------------------


def test_the_district_units_are_its_active_unit_codes(district: District) -> None:
    units = district_units(district.pk)
    assert {"police", "hrss", "housing", "lianshi", "nx_invest"} <= units
    assert "command" not in units
    district.units.filter(code="cac").update(active=False)
    assert "cac" not in district_units(district.pk)


def test_a_step_for_an_unknown_unit_is_refused(district: District) -> None:
    raw = with_step(doc(), 1, owner="tax_bureau")
    assert problems_of(lambda: templates_check([raw], district_id=district.pk)) == [
        "steps[1].owner: unknown unit 'tax_bureau' (a unit code or 'command' or 'town')"
    ]


def test_a_step_for_an_inactive_unit_is_refused(district: District) -> None:
    district.units.filter(code="hrss").update(active=False)
    problems = problems_of(lambda: templates_check([doc()], district_id=district.pk))
    assert problems == ["steps[1].owner: unknown unit 'hrss' (a unit code or 'command' or 'town')"]


def test_a_negative_due_offset_is_refused(district: District) -> None:
    raw = with_step(doc(), 0, due_minutes=-10)
    assert problems_of(lambda: templates_check([raw], district_id=district.pk)) == [
        "steps[0].due_minutes: -10 is out of range (0 to 43200)"
    ]


def test_a_file_of_one_template_names_problems_without_a_prefix(district: District) -> None:
    problems = problems_of(lambda: templates_check([doc(levels=["V"])], district_id=district.pk))
    assert problems == ["levels: unknown 'V' (one of I, II, III, IV)"]


def test_every_problem_of_every_template_is_listed_with_its_place(district: District) -> None:
    documents = [
        doc("first"),
        with_step(doc("second"), 0, owner="nowhere"),
        doc("third", kinds=["riot"], steps=[{**doc()["steps"][0], "due_minutes": -1}]),
        "not a template",
    ]
    problems = problems_of(lambda: templates_check(documents, district_id=district.pk))
    assert problems == [
        "template 2: steps[0].owner: unknown unit 'nowhere' (a unit code or 'command' or 'town')",
        "template 3: kinds: unknown 'riot' (one of site_gathering, gate_gathering, "
        "road_blocking, extreme_act)",
        "template 3: steps[0].due_minutes: -1 is out of range (0 to 43200)",
        "template 4: a template is a mapping of key, name, version, kinds, levels, steps",
    ]


def test_a_key_twice_in_one_file_is_refused(district: District) -> None:
    documents = [doc("same"), doc("other"), doc("same", name="Again")]
    problems = problems_of(lambda: templates_check(documents, district_id=district.pk))
    assert problems == ["key 'same' is in the file twice"]
    assert counts() == (0, 0, 0)
    with pytest.raises(TemplateError):
        save(district, *documents)
    assert counts() == (0, 0, 0)


# --- saving -----------------------------------------------------------------------------------


def test_an_import_creates_the_template_its_steps_and_version_1(district: District) -> None:
    raw = doc(version=7)  # a new template starts at version 1, whatever the file says
    assert save(district, raw) == [Saved("site_gathering", 1, "created")]
    template = PlaybookTemplate.objects.get(district=district, key="site_gathering")
    assert (template.name, template.version, template.trigger, template.active) == (
        "现场聚集 / Site gathering",
        1,
        "incident",
        True,
    )
    assert template.kinds == ["site_gathering"]
    assert template.levels == ["III", "IV"]
    steps = list(template.steps.order_by("position"))
    assert [(s.position, s.key, s.owner, s.due_minutes) for s in steps] == [
        (0, "police_order", "police", 15),
        (1, "hr_verify", "hrss", 60),
    ]
    assert (steps[0].required, steps[0].sms, steps[0].evidence, steps[0].note) == (
        True,
        True,
        "none",
        "",
    )
    assert (steps[1].evidence, steps[1].evidence_label) == ("attachment", "工资名册 / wage roster")
    (version,) = PlaybookVersion.objects.filter(template=template)
    assert (version.version, version.source, version.created_by) == (1, "import", None)
    expected = template_to_dict(template_from_dict({**raw, "version": 1}, units={"police", "hrss"}))
    assert version.definition == expected


def test_an_import_records_who_made_the_version(district: District) -> None:
    user = User.objects.get(username="command")
    playbooks_save([doc()], district_id=district.pk, source="import", user=user)
    assert PlaybookVersion.objects.get().created_by == user


def test_importing_the_same_template_again_changes_nothing(district: District) -> None:
    save(district, doc())
    first = PlaybookVersion.objects.get()
    assert save(district, doc()) == [Saved("site_gathering", 1, "unchanged")]
    assert list(PlaybookVersion.objects.all()) == [first]
    assert PlaybookTemplate.objects.get().version == 1
    assert PlaybookStep.objects.count() == 2


def test_whitespace_and_defaults_spelled_out_are_no_change(district: District) -> None:
    save(district, doc())
    same = with_step(doc(name="  现场聚集 / Site gathering "), 0, required=True, note="", sms=True)
    same = with_step(same, 1, evidence_label=" 工资名册 / wage roster", sms=False)
    assert save(district, same)[0].outcome == "unchanged"
    assert PlaybookVersion.objects.count() == 1


def test_changing_a_step_makes_the_next_version(district: District) -> None:
    save(district, doc())
    v1 = PlaybookVersion.objects.get(version=1)
    v1_definition = dict(v1.definition)
    changed = with_step(doc(), 0, title_zh="公安派员到场", due_minutes=20)
    assert save(district, changed) == [Saved("site_gathering", 2, "updated")]
    template = PlaybookTemplate.objects.get()
    assert template.version == 2
    assert template.steps.get(key="police_order").title_zh == "公安派员到场"
    v1.refresh_from_db()
    assert v1.definition == v1_definition
    assert v1.definition["steps"][0]["title_zh"] == "公安维持秩序"
    v2 = PlaybookVersion.objects.get(version=2)
    assert v2.definition["version"] == 2
    assert v2.definition["steps"][0]["title_zh"] == "公安派员到场"
    assert v2.definition["steps"][0]["due_minutes"] == 20
    assert {**v2.definition, "version": 1, "steps": v1.definition["steps"]} == v1.definition


@pytest.mark.parametrize(
    "change",
    [
        {"name": "改名"},
        {"levels": ["IV"]},
        {"kinds": ["site_gathering", "gate_gathering"]},
        {"steps": [doc()["steps"][1], doc()["steps"][0]]},  # the order is part of the plan
        {"steps": [doc()["steps"][0]]},
    ],
)
def test_any_change_to_the_template_makes_a_new_version(
    district: District, change: dict[str, Any]
) -> None:
    save(district, doc())
    assert save(district, doc(**change))[0].outcome == "updated"
    assert PlaybookVersion.objects.count() == 2


def test_a_file_older_than_the_hub_is_refused_unless_forced(district: District) -> None:
    save(district, doc())
    save(district, with_step(doc(), 0, title_zh="第二版"))
    save(district, with_step(doc(version=2), 0, title_zh="第三版"))
    assert PlaybookTemplate.objects.get().version == 3
    old = with_step(doc(version=2), 1, due_minutes=90)
    problems = problems_of(lambda: save(district, old, doc("brand_new")))
    assert problems == [
        "site_gathering: the file is version 2, the hub has version 3",
        "export again, or import with --force to overwrite",
    ]
    # Nothing of the file was imported, not even its new template.
    assert counts() == (1, 2, 3)
    assert PlaybookTemplate.objects.get().steps.get(key="police_order").title_zh == "第三版"

    assert save(district, old, force=True) == [Saved("site_gathering", 4, "updated")]
    template = PlaybookTemplate.objects.get()
    assert template.steps.get(key="police_order").title_zh == "公安维持秩序"
    assert template.steps.get(key="hr_verify").due_minutes == 90


def test_an_older_file_that_says_what_the_hub_says_is_no_conflict(district: District) -> None:
    save(district, doc())
    save(district, with_step(doc(), 0, title_zh="第二版"))
    assert save(district, with_step(doc(version=1), 0, title_zh="第二版")) == [
        Saved("site_gathering", 2, "unchanged")
    ]


def test_a_newer_version_number_in_the_file_does_not_skip_versions(district: District) -> None:
    save(district, doc())
    assert save(district, doc(version=9, name="新")) == [Saved("site_gathering", 2, "updated")]


def test_a_bad_template_in_a_file_imports_none_of_it(district: District) -> None:
    save(district, doc())
    before = counts()
    documents = [
        with_step(doc(), 0, title_zh="改了"),
        with_step(doc("second"), 1, owner="nowhere"),
    ]
    problems = problems_of(lambda: save(district, *documents))
    assert problems == [
        "template 2: steps[1].owner: unknown unit 'nowhere' (a unit code or 'command' or 'town')"
    ]
    assert counts() == before
    template = PlaybookTemplate.objects.get()
    assert template.version == 1
    assert template.steps.get(key="police_order").title_zh == "公安维持秩序"


# --- export -----------------------------------------------------------------------------------


def test_an_export_imports_back_unchanged(district: District) -> None:
    playbooks_install_defaults(district_id=district.pk)
    save(district, with_step(doc(), 1, note="逐人核对\n留存凭证", required=False))
    save(district, with_step(doc(), 1, note="逐人核对", required=False))
    versions = PlaybookVersion.objects.count()
    text = yaml_dump(playbooks_export(district_id=district.pk))
    documents = yaml_documents(text)
    assert [d["key"] for d in documents] == [
        "gathering_ii_i",
        "holiday_colocation",
        "site_gathering",
        "site_gathering_iv_iii",
    ]
    assert {d["key"]: d["version"] for d in documents}["site_gathering"] == 2
    saved = playbooks_save(documents, district_id=district.pk, source="import")
    assert {s.outcome for s in saved} == {"unchanged"}
    assert PlaybookVersion.objects.count() == versions


def test_the_export_is_readable_yaml_in_the_files_own_order(district: District) -> None:
    save(district, doc())
    text = yaml_dump(playbooks_export(district_id=district.pk))
    assert "现场聚集" in text  # not \u escapes
    assert list(yaml_documents(text)[0]) == [
        "key",
        "name",
        "version",
        "trigger",
        "kinds",
        "levels",
        "steps",
    ]


def test_an_export_of_named_templates(district: District) -> None:
    save(district, doc("a"), doc("b"), doc("c"))
    assert [d["key"] for d in playbooks_export(district_id=district.pk, keys=["c", "a"])] == [
        "a",
        "c",
    ]


def test_an_export_of_an_unknown_key_is_refused(district: District) -> None:
    save(district, doc("a"))
    problems = problems_of(
        lambda: playbooks_export(district_id=district.pk, keys=["a", "zz", "missing"])
    )
    assert problems == ["no template 'missing'", "no template 'zz'"]


def test_an_export_holds_only_the_districts_own_templates(district: District) -> None:
    other = District.objects.create(code="other", case_prefix="OT", name_zh="外区", name_en="Other")
    PlaybookTemplate.objects.create(district=other, key="theirs", name="Theirs")
    save(district, doc("ours"))
    assert [d["key"] for d in playbooks_export(district_id=district.pk)] == ["ours"]
    assert problems_of(lambda: playbooks_export(district_id=district.pk, keys=["theirs"])) == [
        "no template 'theirs'"
    ]


# --- the shipped templates ------------------------------------------------------------------


def test_the_defaults_are_installed_once(district: District) -> None:
    saved = playbooks_install_defaults(district_id=district.pk)
    assert sorted(saved, key=lambda s: s.key) == [
        Saved("gathering_ii_i", 1, "created"),
        Saved("holiday_colocation", 1, "created"),
        Saved("site_gathering_iv_iii", 1, "created"),
    ]
    assert set(PlaybookVersion.objects.values_list("source", flat=True)) == {"defaults"}
    for raw in default_documents():
        template = PlaybookTemplate.objects.get(key=raw["key"])
        assert template.steps.count() == len(raw["steps"])
    before = counts()
    assert playbooks_install_defaults(district_id=district.pk) == []
    assert counts() == before


def test_installing_the_defaults_leaves_an_edited_template_alone(district: District) -> None:
    playbooks_install_defaults(district_id=district.pk)
    (shipped,) = [d for d in default_documents() if d["key"] == "site_gathering_iv_iii"]
    save(district, with_step(shipped, 0, title_zh="本区自定的第一步"))
    PlaybookTemplate.objects.filter(key="gathering_ii_i").delete()
    saved = playbooks_install_defaults(district_id=district.pk)
    assert saved == [Saved("gathering_ii_i", 1, "created")]
    edited = PlaybookTemplate.objects.get(key="site_gathering_iv_iii")
    assert edited.version == 2
    assert edited.steps.get(key="town_on_site").title_zh == "本区自定的第一步"


# --- running checklists keep their version -------------------------------------------------


def activated(actor: Callable[[str], Actor]) -> Incident:
    incident = incident_open("command", people=40, kind="site_gathering")  # level III
    incident_transition(
        actor=actor("command"), incident_id=incident.pk, change=IncidentChange(action="activate")
    )
    return incident


def test_a_running_checklist_keeps_the_version_it_started_from(
    district: District, actor: Callable[[str], Actor]
) -> None:
    playbooks_install_defaults(district_id=district.pk)
    first = activated(actor)
    (running,) = Checklist.objects.filter(incident=first)
    assert running.template.key == "site_gathering_iv_iii"
    assert running.version.version == 1
    before = [(s.key, s.title_zh, s.due_at, s.owner) for s in running.steps.order_by("position")]
    assert before[0][:2] == ("town_on_site", "属地镇街负责人到场稳控")
    assert before[0][2] == running.started_at + timedelta(minutes=15)

    (document,) = playbooks_export(district_id=district.pk, keys=["site_gathering_iv_iii"])
    changed = with_step(document, 0, title_zh="镇街主要领导到场", due_minutes=5)
    assert save(district, changed) == [Saved("site_gathering_iv_iii", 2, "updated")]

    running.refresh_from_db()
    assert running.version.version == 1
    assert running.version.definition["steps"][0]["title_zh"] == "属地镇街负责人到场稳控"
    after = [(s.key, s.title_zh, s.due_at, s.owner) for s in running.steps.order_by("position")]
    assert after == before

    second = activated(actor)
    (new,) = Checklist.objects.filter(incident=second)
    assert new.version.version == 2
    step = new.steps.get(key="town_on_site")
    assert step.title_zh == "镇街主要领导到场"
    assert step.due_at == new.started_at + timedelta(minutes=5)
    assert new.steps.count() == running.steps.count()


def test_a_removed_step_stays_in_the_running_checklist(
    district: District, actor: Callable[[str], Actor]
) -> None:
    playbooks_install_defaults(district_id=district.pk)
    incident = activated(actor)
    (document,) = playbooks_export(district_id=district.pk, keys=["site_gathering_iv_iii"])
    save(district, {**document, "steps": document["steps"][:2]})
    (running,) = Checklist.objects.filter(incident=incident)
    assert running.steps.count() == len(document["steps"])
    assert running.steps.filter(key="stand_down").exists()
