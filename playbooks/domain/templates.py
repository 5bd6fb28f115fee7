"""Playbook templates as data: reading, checking and writing them.

A template is the contingency plan for one kind of situation: which incident kinds and
levels it applies to, and ordered steps, each with its owner (a unit code, or `command` for
the joint command), a due offset from activation, whether it is required, how to do it,
and whether its owner's on-duty officer is sent an SMS when it opens.

Some steps need evidence before they are done: a note, a number (people dispersed, yuan
paid) or an attachment.

Plain Python: `template_from_dict` checks a mapping (as read from YAML) against the units
the district has and returns a `Template`, or raises `TemplateError` listing every problem
with where it is (`steps[3].due_minutes: ...`). `template_to_dict` is its inverse.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from incidents.domain.incidents import Kind, Level

COMMAND = "command"  # the owner of steps the joint command itself carries out
TOWN = "town"  # the owner of steps the incident's own town carries out
SPECIAL_OWNERS = (COMMAND, TOWN)


class Evidence(StrEnum):
    """What a step needs before it may be marked done."""

    NONE = "none"
    NOTE = "note"  # a written account
    NUMBER = "number"  # a figure: people dispersed, yuan paid
    ATTACHMENT = "attachment"  # a file: a signed pay sheet, a photograph


class Trigger(StrEnum):
    """What starts a checklist: an incident that matches, or a sensitive period beginning."""

    INCIDENT = "incident"
    SENSITIVE_PERIOD = "sensitive_period"


MAX_DUE_MINUTES = 30 * 24 * 60
MAX_STEPS = 100
TEXT_MAX = 200
NOTE_MAX = 2000
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class TemplateError(ValueError):
    """A template that may not be used; `problems` lists each one with where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Step:
    key: str
    title_zh: str
    title_en: str
    owner: str  # a unit code, COMMAND or TOWN
    due_minutes: int  # after activation
    required: bool = True
    note: str = ""
    sms: bool = False  # tell the owner's on-duty officer when the step opens
    evidence: Evidence = Evidence.NONE
    evidence_label: str = ""  # what the figure or file is, e.g. "人数 / people dispersed"


@dataclass(frozen=True)
class Template:
    key: str  # stable across versions: what an import updates, what a checklist names
    name: str
    version: int
    kinds: frozenset[Kind]
    levels: frozenset[Level]
    steps: tuple[Step, ...] = field(default_factory=tuple)
    trigger: Trigger = Trigger.INCIDENT

    def applies_to(self, kind: Kind, level: Level) -> bool:
        return self.trigger is Trigger.INCIDENT and kind in self.kinds and level in self.levels


# A step's fields, in the order files and forms give them.
STEP_FIELDS = (
    "key",
    "title_zh",
    "title_en",
    "owner",
    "due_minutes",
    "required",
    "note",
    "sms",
    "evidence",
    "evidence_label",
)
_STEP_FIELDS = set(STEP_FIELDS)
_TEMPLATE_FIELDS = {"key", "name", "version", "trigger", "kinds", "levels", "steps"}


def _text(
    where: str, value: Any, problems: list[str], *, limit: int = TEXT_MAX, required: bool = True
) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(f"{where}: give a text")
        return ""
    if len(value) > limit:
        problems.append(f"{where}: at most {limit} characters")
    return value.strip()


def _flag(where: str, value: Any, default: bool, problems: list[str]) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.append(f"{where}: give true or false")
        return default
    return value


def _choices(where: str, value: Any, allowed: Mapping[str, Any], problems: list[str]) -> set[Any]:
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: give a list of at least one of {', '.join(allowed)}")
        return set()
    chosen = set()
    for item in value:
        if not isinstance(item, str) or item not in allowed:
            problems.append(f"{where}: unknown {item!r} (one of {', '.join(allowed)})")
        else:
            chosen.add(allowed[item])
    return chosen


def _key(where: str, value: Any, problems: list[str]) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        problems.append(
            f"{where}: give a key of lower-case letters, digits and _ (at most 40), "
            "starting with a letter"
        )
        return ""
    return value


def _step(
    where: str, raw: Any, units: Collection[str], problems: list[str], *, owners: Collection[str]
) -> Step | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a step is a mapping of {', '.join(sorted(_STEP_FIELDS))}")
        return None
    for unknown in sorted(set(raw) - _STEP_FIELDS, key=str):
        problems.append(f"{where}.{unknown}: unknown field")
    key = _key(f"{where}.key", raw.get("key"), problems)
    owner = raw.get("owner")
    if not isinstance(owner, str) or (owner not in owners and owner not in units):
        allowed = " or ".join(map(repr, owners))
        problems.append(f"{where}.owner: unknown unit {owner!r} (a unit code or {allowed})")
    evidence = raw.get("evidence")
    if evidence is None:
        evidence = Evidence.NONE.value
    if not isinstance(evidence, str) or evidence not in Evidence._value2member_map_:
        allowed = ", ".join(e.value for e in Evidence)
        problems.append(f"{where}.evidence: unknown {evidence!r} (one of {allowed})")
        evidence = Evidence.NONE.value
    due = raw.get("due_minutes")
    if isinstance(due, bool) or not isinstance(due, int):
        problems.append(f"{where}.due_minutes: give whole minutes after activation")
        due = 0
    elif not 0 <= due <= MAX_DUE_MINUTES:
        problems.append(f"{where}.due_minutes: {due} is out of range (0 to {MAX_DUE_MINUTES})")
    return Step(
        key=key,
        title_zh=_text(f"{where}.title_zh", raw.get("title_zh"), problems),
        title_en=_text(f"{where}.title_en", raw.get("title_en"), problems),
        owner=owner if isinstance(owner, str) else "",
        due_minutes=due,
        required=_flag(f"{where}.required", raw.get("required"), True, problems),
        note=_text(f"{where}.note", raw.get("note"), problems, limit=NOTE_MAX, required=False),
        sms=_flag(f"{where}.sms", raw.get("sms"), False, problems),
        evidence=Evidence(evidence),
        evidence_label=_text(
            f"{where}.evidence_label", raw.get("evidence_label"), problems, required=False
        ),
    )


def template_from_dict(raw: Any, *, units: Collection[str]) -> Template:
    """A checked template from a mapping; `TemplateError` names every problem.

    `units` are the unit codes of the district the template is for.
    """
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise TemplateError(["a template is a mapping of key, name, version, kinds, levels, steps"])
    for unknown in sorted(set(raw) - _TEMPLATE_FIELDS, key=str):
        problems.append(f"{unknown}: unknown field")
    key = _key("key", raw.get("key"), problems)
    name = _text("name", raw.get("name"), problems, limit=100)
    version = raw.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append("version: give a whole number from 1")
        version = 1
    trigger = raw.get("trigger", Trigger.INCIDENT.value)
    if not isinstance(trigger, str) or trigger not in Trigger._value2member_map_:
        problems.append(f"trigger: unknown {trigger!r} (incident or sensitive_period)")
        trigger = Trigger.INCIDENT.value
    kinds: set[Any] = set()
    levels: set[Any] = set()
    if Trigger(trigger) is Trigger.INCIDENT:
        kinds = _choices("kinds", raw.get("kinds"), Kind._value2member_map_, problems)
        levels = _choices("levels", raw.get("levels"), Level._value2member_map_, problems)
    elif raw.get("kinds") or raw.get("levels"):
        problems.append("kinds, levels: a sensitive-period checklist matches no incident")
    raw_steps = raw.get("steps")
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append("steps: give a list of at least one step")
    elif len(raw_steps) > MAX_STEPS:
        problems.append(f"steps: at most {MAX_STEPS}")
    else:
        # A sensitive-period checklist belongs to no incident, so to no town.
        owners = SPECIAL_OWNERS if Trigger(trigger) is Trigger.INCIDENT else (COMMAND,)
        for n, raw_step in enumerate(raw_steps):
            step = _step(f"steps[{n}]", raw_step, units, problems, owners=owners)
            if step is not None:
                steps.append(step)
        seen: set[str] = set()
        for n, step in enumerate(steps):
            if step.key and step.key in seen:
                problems.append(f"steps[{n}].key: {step.key!r} is used twice")
            seen.add(step.key)
    if problems:
        raise TemplateError(problems)
    return Template(
        key=key,
        name=name,
        version=version,
        kinds=frozenset(kinds),
        levels=frozenset(levels),
        steps=tuple(steps),
        trigger=Trigger(trigger),
    )


def template_to_dict(template: Template) -> dict[str, Any]:
    """The mapping `template_from_dict` reads back to the same template (for YAML export)."""
    return {
        "key": template.key,
        "name": template.name,
        "version": template.version,
        "trigger": template.trigger.value,
        "kinds": sorted(k.value for k in template.kinds),
        "levels": [lv.value for lv in Level if lv in template.levels],
        "steps": [{name: _plain(getattr(s, name)) for name in STEP_FIELDS} for s in template.steps],
    }


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value
