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
    KEY_PATTERN,
    MAX_DUE_MINUTES,
    TOWN,
    Evidence,
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
        "key": "site_gathering",
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


KEYS = st.from_regex(KEY_PATTERN, fullmatch=True)
# Text that survives YAML as it is: no control characters, no lone surrogates.
LABELS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    max_size=40,
)


@given(
    key=KEYS,
    kinds=st.sets(st.sampled_from(list(Kind)), min_size=1),
    levels=st.sets(st.sampled_from(list(Level)), min_size=1),
    steps=st.lists(
        st.tuples(
            KEYS,
            st.integers(0, MAX_DUE_MINUTES),
            st.sampled_from(list(Evidence)),
            LABELS,
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda step: step[0],
    ),
)
def test_export_then_import_gives_the_same_template(
    key: str,
    kinds: set[Kind],
    levels: set[Level],
    steps: list[tuple[str, int, Evidence, str, bool, bool]],
) -> None:
    raw_steps = [
        {
            "key": step_key,
            "title_zh": f"步骤{n}",
            "title_en": f"Step {n}",
            "owner": "hrss",
            "due_minutes": due,
            "required": required,
            "sms": sms,
            "note": "",
            "evidence": evidence.value,
            "evidence_label": label,
        }
        for n, (step_key, due, evidence, label, required, sms) in enumerate(steps)
    ]
    raw = good(
        key=key,
        kinds=[k.value for k in kinds],
        levels=[lv.value for lv in levels],
        steps=raw_steps,
    )
    template = template_from_dict(raw, units=UNITS)
    assert template.key == key
    assert [s.evidence for s in template.steps] == [evidence for _, _, evidence, *_ in steps]
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


def test_a_template_names_its_key() -> None:
    assert template_from_dict(good(), units=UNITS).key == "site_gathering"
    assert template_to_dict(template_from_dict(good(), units=UNITS))["key"] == "site_gathering"


@pytest.mark.parametrize(
    "key",
    [None, "", "Site_gathering", "1st", "_site", "site-gathering", "site gathering", "a" * 41, 7],
)
def test_a_missing_or_malformed_template_key_is_refused(key: Any) -> None:
    raw = good(key=key)
    if key is None:
        del raw["key"]
    problems = problems_of(raw)
    assert [p for p in problems if p.startswith("key: ")] == [
        "key: give a key of lower-case letters, digits and _ (at most 40), starting with a letter"
    ], problems


@pytest.mark.parametrize("key", ["a", "site_gathering", "x" + "9" * 39, "hr2_verify"])
def test_a_well_formed_key_is_accepted(key: str) -> None:
    step = {**good()["steps"][0], "key": key}
    template = template_from_dict(good(key=key, steps=[step]), units=UNITS)
    assert template.key == key
    assert template.steps[0].key == key


@pytest.mark.parametrize("key", [None, "", "Police", "9lives", "police-order", "p" * 41, 3])
def test_a_step_key_has_the_same_format(key: Any) -> None:
    step = {**good()["steps"][0], "key": key}
    if key is None:
        del step["key"]
    problems = problems_of(good(steps=[step]))
    assert any(p.startswith("steps[0].key: give a key") for p in problems), problems
    assert not any(p.startswith("key:") for p in problems), problems


@pytest.mark.parametrize("evidence", ["photo", "", "NOTE", 1])
def test_an_unknown_evidence_is_refused(evidence: Any) -> None:
    step = {**good()["steps"][0], "evidence": evidence}
    problems = problems_of(good(steps=[step]))
    assert [p for p in problems if p.startswith("steps[0].evidence")] == [
        f"steps[0].evidence: unknown {evidence!r} (one of none, note, number, attachment)"
    ], problems


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"steps": [{**good()["steps"][0], "evidence": ["note"]}]}, "steps[0].evidence"),
        ({"trigger": ["incident"]}, "trigger"),
    ],
)
def test_a_list_where_a_word_belongs_is_refused_not_a_crash(
    change: dict[str, Any], where: str
) -> None:
    problems = problems_of(good(**change))
    assert any(p.startswith(f"{where}: unknown") for p in problems), problems


def test_unknown_fields_of_mixed_types_are_all_named() -> None:
    step = {**good()["steps"][0], 1: "x", "colour": "red"}
    problems = problems_of(good(steps=[step]))
    assert "steps[0].colour: unknown field" in problems
    assert "steps[0].1: unknown field" in problems


def test_evidence_defaults_to_none_with_no_label() -> None:
    (step,) = template_from_dict(good(), units=UNITS).steps
    assert step.evidence is Evidence.NONE
    assert step.evidence_label == ""
    assert template_to_dict(template_from_dict(good(), units=UNITS))["steps"][0] == {
        "key": "police_order",
        "title_zh": "公安维持秩序",
        "title_en": "Police keep order",
        "owner": "police",
        "due_minutes": 15,
        "required": True,
        "note": "",
        "sms": False,
        "evidence": "none",
        "evidence_label": "",
    }


@pytest.mark.parametrize("evidence", list(Evidence))
def test_evidence_and_its_label_go_through_yaml_and_back(evidence: Evidence) -> None:
    step = {
        **good()["steps"][0],
        "evidence": evidence.value,
        "evidence_label": "  已疏散人数 / people dispersed ",
    }
    template = template_from_dict(good(steps=[step]), units=UNITS)
    assert template.steps[0].evidence is evidence
    assert template.steps[0].evidence_label == "已疏散人数 / people dispersed"
    written = template_to_dict(template)
    assert written["steps"][0]["evidence"] == evidence.value
    assert written["steps"][0]["evidence_label"] == "已疏散人数 / people dispersed"
    text = yaml.safe_dump(written, allow_unicode=True)
    assert template_from_dict(yaml.safe_load(text), units=UNITS) == template


def test_an_evidence_label_too_long_is_refused() -> None:
    step = {**good()["steps"][0], "evidence": "number", "evidence_label": "x" * 201}
    assert any(
        p.startswith("steps[0].evidence_label: at most 200")
        for p in problems_of(good(steps=[step]))
    )


def sensitive(owner: str) -> dict[str, Any]:
    raw = good(
        key="holiday",
        trigger="sensitive_period",
        steps=[{**good()["steps"][0], "owner": owner}],
    )
    del raw["kinds"], raw["levels"]
    return raw


def test_a_sensitive_period_template_may_not_give_a_step_to_the_town() -> None:
    problems = problems_of(sensitive(TOWN))
    assert problems == ["steps[0].owner: unknown unit 'town' (a unit code or 'command')"]


@pytest.mark.parametrize("owner", [COMMAND, "police", "lianshi"])
def test_a_sensitive_period_template_gives_steps_to_command_or_units(owner: str) -> None:
    template = template_from_dict(sensitive(owner), units=UNITS)
    assert template.trigger is Trigger.SENSITIVE_PERIOD
    assert template.steps[0].owner == owner
    assert template.kinds == frozenset()
    assert template.levels == frozenset()
    # A sensitive-period checklist is started by the calendar, never by an incident.
    assert not any(template.applies_to(k, lv) for k in Kind for lv in Level)


def test_the_shipped_templates_have_distinct_keys_matching_their_files() -> None:
    paths = sorted(DATA.glob("*.yaml"))
    keys = [t.key for t in shipped()]
    assert len(set(keys)) == len(keys) == len(paths)
    assert keys == [path.stem for path in paths]
    assert all(KEY_PATTERN.match(k) for k in keys)


def test_the_shipped_evidence_steps_say_what_evidence_they_need() -> None:
    steps = [s for t in shipped() for s in t.steps]
    with_evidence = [s for s in steps if s.evidence is not Evidence.NONE]
    assert {s.evidence for s in with_evidence} == {
        Evidence.NOTE,
        Evidence.NUMBER,
        Evidence.ATTACHMENT,
    }
    # A figure or a file is useless unless the officer is told what it is.
    assert all(s.evidence_label for s in with_evidence if s.evidence is not Evidence.NOTE), [
        s.key for s in with_evidence if not s.evidence_label
    ]
