"""Playbook templates as data: what a good file gives, every way a bad one is refused, and
the templates the hub ships."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from incidents.demo import BUREAUS, SOES, TOWNS
from incidents.domain.incidents import Kind, Level
from playbooks.domain.templates import (
    COMMAND,
    MAX_DUE_MINUTES,
    TOWN,
    Template,
    TemplateError,
    Trigger,
    template_from_dict,
    template_to_dict,
)

DATA = Path(__file__).resolve().parents[2] / "playbooks" / "data"
UNITS = {code for code, *_ in TOWNS} | {code for code, *_ in BUREAUS} | {c for c, *_ in SOES}


def good(**overrides: Any) -> dict[str, Any]:
    step = {
        "key": "police_order",
        "title_zh": "公安维持秩序",
        "title_en": "Police keep order",
        "owner": "police",
        "due_minutes": 15,
    }
    raw: dict[str, Any] = {
        "name": "现场聚集",
        "version": 2,
        "kinds": ["site_gathering"],
        "levels": ["IV", "III"],
        "steps": [step],
    }
    raw.update(overrides)
    return raw


def problems_of(raw: Any) -> list[str]:
    with pytest.raises(TemplateError) as caught:
        template_from_dict(raw, units=UNITS)
    return caught.value.problems


def test_a_good_template_reads_with_its_defaults() -> None:
    template = template_from_dict(good(), units=UNITS)
    assert template.name == "现场聚集"
    assert template.version == 2
    assert template.trigger is Trigger.INCIDENT
    assert template.kinds == {Kind.SITE_GATHERING}
    assert template.levels == {Level.IV, Level.III}
    (step,) = template.steps
    assert (step.owner, step.due_minutes, step.required, step.sms, step.note) == (
        "police",
        15,
        True,
        False,
        "",
    )
    assert template.applies_to(Kind.SITE_GATHERING, Level.III)
    assert not template.applies_to(Kind.SITE_GATHERING, Level.II)
    assert not template.applies_to(Kind.ROAD_BLOCKING, Level.III)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"steps": [{**good()["steps"][0], "owner": "nowhere"}]}, "steps[0].owner: unknown unit"),
        ({"steps": [{**good()["steps"][0], "due_minutes": -5}]}, "steps[0].due_minutes: -5"),
        (
            {"steps": [{**good()["steps"][0], "due_minutes": MAX_DUE_MINUTES + 1}]},
            "steps[0].due_minutes",
        ),
        ({"steps": [{**good()["steps"][0], "due_minutes": "15"}]}, "steps[0].due_minutes"),
        ({"steps": [{**good()["steps"][0], "due_minutes": True}]}, "steps[0].due_minutes"),
        ({"steps": [{**good()["steps"][0], "title_zh": ""}]}, "steps[0].title_zh"),
        ({"steps": [{**good()["steps"][0], "required": "yes"}]}, "steps[0].required"),
        ({"steps": [{**good()["steps"][0], "colour": "red"}]}, "steps[0].colour: unknown"),
        ({"steps": [good()["steps"][0], good()["steps"][0]]}, "steps[1].key: 'police_order'"),
        ({"steps": []}, "steps: give a list"),
        ({"steps": ["tick"]}, "steps[0]: a step is a mapping"),
        ({"kinds": ["riot"]}, "kinds: unknown 'riot'"),
        ({"levels": ["V"]}, "levels: unknown 'V'"),
        ({"levels": []}, "levels: give a list"),
        ({"version": 0}, "version"),
        ({"name": " "}, "name: give a text"),
        ({"trigger": "moon"}, "trigger: unknown"),
        ({"trigger": "sensitive_period"}, "kinds, levels"),
        ({"extra": 1}, "extra: unknown field"),
    ],
)
def test_a_bad_template_is_refused_saying_where(change: dict[str, Any], where: str) -> None:
    problems = problems_of(good(**change))
    assert any(where in p for p in problems), problems


def test_every_problem_is_listed_at_once() -> None:
    step = {**good()["steps"][0], "owner": "nowhere", "due_minutes": -1}
    problems = problems_of(good(kinds=["riot"], steps=[step]))
    assert len(problems) == 3


@pytest.mark.parametrize("raw", [None, [], "name: x", 3])
def test_something_that_is_no_mapping_is_refused(raw: Any) -> None:
    assert problems_of(raw)


def test_special_owners_need_no_unit() -> None:
    steps = [
        {**good()["steps"][0], "key": "a", "owner": COMMAND},
        {**good()["steps"][0], "key": "b", "owner": TOWN},
    ]
    template = template_from_dict(good(steps=steps), units=set())
    assert [s.owner for s in template.steps] == [COMMAND, TOWN]


@given(
    kinds=st.sets(st.sampled_from(list(Kind)), min_size=1),
    levels=st.sets(st.sampled_from(list(Level)), min_size=1),
    dues=st.lists(st.integers(0, MAX_DUE_MINUTES), min_size=1, max_size=8),
    required=st.booleans(),
    sms=st.booleans(),
)
def test_export_then_import_gives_the_same_template(
    kinds: set[Kind], levels: set[Level], dues: list[int], required: bool, sms: bool
) -> None:
    steps = [
        {
            "key": f"s{n}",
            "title_zh": f"步骤{n}",
            "title_en": f"Step {n}",
            "owner": "hrss",
            "due_minutes": due,
            "required": required,
            "sms": sms,
            "note": "",
        }
        for n, due in enumerate(dues)
    ]
    raw = good(kinds=[k.value for k in kinds], levels=[lv.value for lv in levels], steps=steps)
    template = template_from_dict(raw, units=UNITS)
    text = yaml.safe_dump(template_to_dict(template), allow_unicode=True)
    again = template_from_dict(yaml.safe_load(text), units=UNITS)
    assert again == template


def shipped() -> list[Template]:
    return [
        template_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")), units=UNITS)
        for path in sorted(DATA.glob("*.yaml"))
    ]


def test_the_shipped_templates_are_valid_and_cover_the_plan() -> None:
    templates = shipped()
    assert len(templates) == 3
    by_trigger = {t.trigger for t in templates}
    assert by_trigger == {Trigger.INCIDENT, Trigger.SENSITIVE_PERIOD}
    # Every incident finds a playbook, whatever its kind and level.
    for kind in Kind:
        for level in Level:
            if kind in (Kind.SITE_GATHERING, Kind.GATE_GATHERING) or level in (Level.II, Level.I):
                assert any(t.applies_to(kind, level) for t in templates), (kind, level)


def test_the_large_incident_playbook_has_every_department_and_deadline_of_the_plan() -> None:
    (large,) = [t for t in shipped() if t.applies_to(Kind.ROAD_BLOCKING, Level.I)]
    owners = {s.owner for s in large.steps}
    assert {"police", "hrss", "housing", "petition", "cac", COMMAND} <= owners
    steps = {s.key: s for s in large.steps}
    assert steps["first_report"].due_minutes == 30
    assert steps["written_report"].due_minutes == 60
    assert {"joint_meeting", "wages_paid", "stand_down", "review"} <= set(steps)
