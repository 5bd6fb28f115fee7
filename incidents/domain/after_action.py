"""The facts of an after-action report (事后评估报告), computed from an incident's event log.

Pure rules, no Django. The caller hands over the incident's static facts and the events of
its stream up to the report's cutoff (plain records), and gets back what the report says:
the summary, a readable timeline, the playbook steps, the SMS alerts, the money and the
linked cases. The same events always give the same report.

Events of linked cases from before they were linked (`in_stream=False`) count for money and
case states only; they are not part of the incident's timeline.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from incidents.domain.incidents import LEVELS_ASCENDING, Level

# Not part of the timeline: room chatter, each SMS's delivery reports (the alerts table
# counts them), and the report's own edits.
TIMELINE_SKIPPED_PREFIXES = ("sms.", "after_action.")
TIMELINE_SKIPPED_KINDS = frozenset({"incident.chat"})
# Step states that finish a step (as in playbooks.domain.checklist.FINISHED).
FINISHED_STEP_STATES = frozenset({"done", "skipped"})
SMS_FAILED_KINDS = frozenset({"sms.failed", "sms.undelivered", "sms.given_up"})
ZERO = Decimal("0.00")

# The details of an event worth a line in the timeline, in the order shown.
TIMELINE_DETAILS: dict[str, tuple[str, ...]] = {
    "incident.reported": ("people_count", "level", "case_numbers"),
    "incident.activate": ("level",),
    "incident.contain": (),
    "incident.close": (),
    "incident.set_level": ("level_before", "level"),
    "incident.update": ("people_count_before", "people_count", "level_before", "level"),
    "incident.link_cases": ("case_numbers",),
    "incident.take_command": ("commander_before", "commander"),
    "incident.acknowledged": ("note",),
    "checklist.started": ("name", "steps"),
    "checklist.step_moved": ("title", "owner", "note"),
    "checklist.step_late": ("title", "owner", "minutes_late"),
    "alert.raised": ("unit", "recipients", "nobody_on_duty"),
    "alert.escalated": ("unit", "recipients", "nobody_on_duty"),
    "alert.acknowledged": ("unit", "by", "via", "response_seconds"),
    "alert.exhausted": ("unit", "nobody_on_duty"),
    "alert.cancelled": ("unit",),
    "alert.replied": ("unit", "text"),
    "fund.advance": ("amount",),
    "fund.recovery": ("amount",),
    "case.registered": ("workers_count", "amount_owed"),
    "case.dispatch": ("unit",),
    "case.resolve": ("amount_paid",),
    "case.confirm_facts": ("confirmed_amount",),
    "case.advance_payment": ("amount",),
    "case.record_recovery": ("amount",),
}
# For kinds not listed: any of these that the event carries.
DEFAULT_DETAILS = ("unit", "amount", "note")
# Details naming a unit by its code; the caller's `unit_names` turn them into names.
UNIT_DETAILS = frozenset({"unit", "owner"})


@dataclass(frozen=True)
class EventRecord:
    """One event of the log, as plain values."""

    id: int
    kind: str
    at: datetime
    actor: str | None = None
    reason: str = ""
    before: str = ""
    after: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    case_number: str | None = None
    in_stream: bool = True


@dataclass(frozen=True)
class PlannedStep:
    """A step of a checklist started for the incident, as it was planned (never changes)."""

    checklist_id: int
    step_id: int
    key: str
    title: str
    owner: str
    due_at: datetime
    title_en: str = ""


@dataclass(frozen=True)
class IncidentFacts:
    """What does not change over an incident's life (or is only a fallback)."""

    id: int
    code: str
    title: str
    kind: str
    town: str
    lat: float
    lng: float
    level: str
    people_count: int
    reported_at: datetime | None = None
    unit_names: Mapping[str, str] = field(default_factory=dict)


def after_action_facts(
    incident: IncidentFacts,
    events: Iterable[EventRecord],
    planned_steps: Sequence[PlannedStep] = (),
) -> dict[str, Any]:
    """The report's facts from `events` (the incident's stream up to the cutoff).

    Money is in Decimal strings (yuan, two places); times stay as the aware datetimes given.
    """
    ordered = sorted({e.id: e for e in events}.values(), key=lambda e: e.id)
    stream = [e for e in ordered if e.in_stream]
    summary = _summary(incident, stream)
    end = summary["closed_at"] or (stream[-1].at if stream else None)
    return {
        "summary": summary,
        "timeline": [_timeline_item(e, incident.unit_names) for e in stream if _on_timeline(e)],
        "steps": _steps(stream, planned_steps, end=end, names=incident.unit_names),
        "alerts": _alerts(stream, incident.unit_names),
        "money": _money(ordered),
        "cases": _cases(ordered),
    }


# --- summary -------------------------------------------------------------------------------


def _graver_of(a: str | None, b: str | None) -> str | None:
    ranks = {lvl.value: n for n, lvl in enumerate(LEVELS_ASCENDING)}
    if a not in ranks:
        return b if b in ranks else a
    if b not in ranks:
        return a
    return a if ranks[a] >= ranks[b] else b


def _first_at(events: Sequence[EventRecord], kind: str) -> datetime | None:
    return next((e.at for e in events if e.kind == kind), None)


def _summary(incident: IncidentFacts, events: Sequence[EventRecord]) -> dict[str, Any]:
    level: str | None = None
    people: int | None = None
    for e in events:
        if e.kind.startswith("incident."):
            for key in ("level", "level_before"):
                value = e.data.get(key)
                if isinstance(value, str) and value in Level._value2member_map_:
                    level = _graver_of(level, value)
        for key in ("people_count", "people_count_before"):
            count = e.data.get(key)
            if e.kind.startswith("incident.") and isinstance(count, int):
                people = count if people is None else max(people, count)
    closes = [e for e in events if e.kind == "incident.close"]
    reported_at = _first_at(events, "incident.reported") or incident.reported_at
    closed_at = closes[-1].at if closes else None
    duration = (
        int((closed_at - reported_at).total_seconds() // 60)
        if closed_at is not None and reported_at is not None
        else None
    )
    return {
        "title": incident.title,
        "code": incident.code,
        "kind": incident.kind,
        "town": incident.town,
        "town_name": incident.unit_names.get(incident.town, incident.town),
        "location": {"lat": incident.lat, "lng": incident.lng},
        "level": level or incident.level,
        "people": people if people is not None else incident.people_count,
        "reported_at": reported_at,
        "activated_at": _first_at(events, "incident.activate"),
        "contained_at": _first_at(events, "incident.contain"),
        "closed_at": closed_at,
        "duration_minutes": duration,
        "outcome": closes[-1].reason if closes else "",
        "closed_by": closes[-1].actor if closes else None,
    }


# --- timeline ------------------------------------------------------------------------------


def _on_timeline(event: EventRecord) -> bool:
    return event.kind not in TIMELINE_SKIPPED_KINDS and not event.kind.startswith(
        TIMELINE_SKIPPED_PREFIXES
    )


def _detail_text(key: str, value: Any, names: Mapping[str, str]) -> str:
    if key in UNIT_DETAILS and isinstance(value, str):
        return names.get(value, value)
    if key == "recipients" and isinstance(value, list):
        return ", ".join(str(r.get("name", "")) if isinstance(r, dict) else str(r) for r in value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _timeline_item(event: EventRecord, names: Mapping[str, str]) -> dict[str, Any]:
    keys = TIMELINE_DETAILS.get(event.kind, DEFAULT_DETAILS)
    details = [
        (key, _detail_text(key, event.data[key], names))
        for key in keys
        if event.data.get(key) not in (None, "", [], {})
    ]
    return {
        "id": event.id,
        "at": event.at,
        "who": event.actor,
        "kind": event.kind,
        "case_number": event.case_number,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "details": details,
    }


# --- playbook steps ------------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def _steps(
    events: Sequence[EventRecord],
    planned: Sequence[PlannedStep],
    *,
    end: datetime | None,
    names: Mapping[str, str],
) -> list[dict[str, Any]]:
    started = {e.data.get("checklist_id") for e in events if e.kind == "checklist.started"}
    steps: dict[int, dict[str, Any]] = {}
    for p in planned:
        if p.checklist_id in started:
            steps[p.step_id] = {
                "checklist_id": p.checklist_id,
                "step_id": p.step_id,
                "key": p.key,
                "title": p.title,
                "title_en": p.title_en,
                "owner": p.owner,
                "due_at": p.due_at,
                "state": "open",
                "done_at": None,
                "late_marked": 0,
            }
    for e in events:
        if e.kind not in {"checklist.step_moved", "checklist.step_late"}:
            continue
        step_id = e.data.get("step_id")
        if not isinstance(step_id, int):
            continue
        step = steps.setdefault(
            step_id,
            {
                "checklist_id": e.data.get("checklist_id"),
                "step_id": step_id,
                "key": e.data.get("step", ""),
                "title": e.data.get("title", ""),
                "title_en": e.data.get("title_en", ""),
                "owner": e.data.get("owner", ""),
                "due_at": _parse_time(e.data.get("due_at")),
                "state": "open",
                "done_at": None,
                "late_marked": 0,
            },
        )
        if e.kind == "checklist.step_late":
            minutes = e.data.get("minutes_late")
            step["late_marked"] = max(
                step["late_marked"], minutes if isinstance(minutes, int) else 1
            )
            continue
        step["state"] = e.after or e.data.get("state") or step["state"]
        step["done_at"] = e.at if step["state"] in FINISHED_STEP_STATES else None
    out = []
    for step_id in sorted(steps):
        step = steps[step_id]
        due: datetime | None = step["due_at"]
        finished_at: datetime | None = step.pop("done_at")
        marked: int = step.pop("late_marked")
        until = finished_at if finished_at is not None else end
        late, minutes = False, 0
        if due is not None and until is not None and until > due:
            late, minutes = True, _minutes_between(due, until)
        if finished_at is None and marked:
            # The sweep saw it late while the incident was open.
            late, minutes = True, max(minutes, marked)
        out.append(
            step
            | {
                "owner_name": names.get(step["owner"], step["owner"]),
                "done_at": finished_at,
                "late": late,
                "minutes_late": minutes,
            }
        )
    return out


# --- alerts --------------------------------------------------------------------------------


def _alerts(events: Sequence[EventRecord], names: Mapping[str, str]) -> dict[str, Any]:
    alerts: dict[int, dict[str, Any]] = {}
    messages: dict[int, dict[str, set[Any]]] = {}

    def alert_of(alert_id: int, event: EventRecord) -> dict[str, Any]:
        return alerts.setdefault(
            alert_id,
            {
                "alert_id": alert_id,
                "reason": event.data.get("reason", ""),
                "unit": event.data.get("unit") or "",
                "raised_at": None,
                "state": "open",
                "paged": [],
                "acknowledged_at": None,
                "acknowledged_by": None,
                "acknowledged_via": None,
                "response_seconds": None,
            },
        )

    for e in events:
        alert_id = e.data.get("alert_id")
        if not isinstance(alert_id, int):
            continue
        if e.kind.startswith("sms."):
            seen = messages.setdefault(
                alert_id, {"sent": set(), "delivered": set(), "failed": set()}
            )
            message = e.data.get("message_id", e.id)
            if e.kind == "sms.sent":
                seen["sent"].add(message)
            elif e.kind == "sms.delivered":
                seen["delivered"].add(message)
            elif e.kind in SMS_FAILED_KINDS:
                seen["failed"].add(message)
            continue
        if not e.kind.startswith("alert."):
            continue
        alert = alert_of(alert_id, e)
        if e.kind in {"alert.raised", "alert.escalated"}:
            if alert["raised_at"] is None:
                alert["raised_at"] = e.at
            for r in e.data.get("recipients") or []:
                name = r.get("name") if isinstance(r, dict) else r
                if name and name not in alert["paged"]:
                    alert["paged"].append(name)
        elif e.kind == "alert.acknowledged":
            alert["state"] = "acknowledged"
            alert["acknowledged_at"] = e.at
            alert["acknowledged_by"] = e.data.get("by")
            alert["acknowledged_via"] = e.data.get("via")
            seconds = e.data.get("response_seconds")
            if not isinstance(seconds, int) and alert["raised_at"] is not None:
                seconds = int((e.at - alert["raised_at"]).total_seconds())
            alert["response_seconds"] = seconds if isinstance(seconds, int) else None
        elif e.kind == "alert.exhausted":
            alert["state"] = "exhausted"
        elif e.kind == "alert.cancelled" and alert["state"] == "open":
            alert["state"] = "cancelled"
    rows = []
    for alert_id in sorted(alerts):
        alert = alerts[alert_id]
        seen = messages.get(alert_id, {"sent": set(), "delivered": set(), "failed": set()})
        rows.append(
            alert
            | {
                "unit_name": names.get(alert["unit"], alert["unit"]),
                "sent": len(seen["sent"]),
                "delivered": len(seen["delivered"]),
                "failed": len(seen["failed"]),
            }
        )
    responses = [a["response_seconds"] for a in rows if a["response_seconds"] is not None]
    return {
        "items": rows,
        "totals": {
            "alerts": len(rows),
            "sent": sum(a["sent"] for a in rows),
            "delivered": sum(a["delivered"] for a in rows),
            "failed": sum(a["failed"] for a in rows),
            "acknowledged": sum(1 for a in rows if a["state"] == "acknowledged"),
            "exhausted": sum(1 for a in rows if a["state"] == "exhausted"),
            "median_response_seconds": (int(statistics.median(responses)) if responses else None),
        },
    }


# --- money and cases -----------------------------------------------------------------------


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else ZERO
    except (InvalidOperation, ValueError):
        return ZERO


def _money_str(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):.2f}"


def _case_money(events: Sequence[EventRecord]) -> dict[str, dict[str, Decimal]]:
    cases: dict[str, dict[str, Decimal]] = {}
    for e in events:
        if not e.case_number:
            continue
        row = cases.setdefault(
            e.case_number, {"owed": ZERO, "paid": ZERO, "advanced": ZERO, "recovered": ZERO}
        )
        if e.kind == "case.registered":
            row["owed"] = _amount(e.data.get("amount_owed"))
        elif e.kind == "case.resolve":
            row["paid"] = _amount(e.data.get("amount_paid"))
        elif e.kind == "fund.advance":
            row["advanced"] += _amount(e.data.get("amount"))
        elif e.kind == "fund.recovery":
            row["recovered"] += _amount(e.data.get("amount"))
    return cases


def _outstanding(row: Mapping[str, Decimal]) -> Decimal:
    """What the workers are still owed: neither paid on site nor advanced to them."""
    return max(ZERO, row["owed"] - row["paid"] - row["advanced"])


def _money(events: Sequence[EventRecord]) -> dict[str, str]:
    cases = _case_money(events).values()
    total = {
        key: sum((c[key] for c in cases), ZERO) for key in ("owed", "paid", "advanced", "recovered")
    }
    outstanding = sum((_outstanding(c) for c in cases), ZERO)
    return {
        "owed": _money_str(total["owed"]),
        "paid": _money_str(total["paid"]),
        "advanced": _money_str(total["advanced"]),
        "recovered": _money_str(total["recovered"]),
        "outstanding": _money_str(outstanding),
        "unrecovered": _money_str(max(ZERO, total["advanced"] - total["recovered"])),
    }


def _linked_numbers(events: Sequence[EventRecord]) -> list[str]:
    numbers: list[str] = []
    for e in events:
        if e.in_stream and e.kind in {"incident.reported", "incident.link_cases"}:
            numbers.extend(str(n) for n in e.data.get("case_numbers") or [])
    for e in events:
        if e.case_number:
            numbers.append(e.case_number)
    return list(dict.fromkeys(numbers))


def _cases(events: Sequence[EventRecord]) -> list[dict[str, Any]]:
    states: dict[str, str] = {}
    for e in events:
        if e.case_number:
            state = e.after or e.data.get("state")
            if isinstance(state, str) and state:
                states[e.case_number] = state
    money = _case_money(events)
    rows = []
    for number in _linked_numbers(events):
        row = money.get(number, {"owed": ZERO, "paid": ZERO, "advanced": ZERO, "recovered": ZERO})
        rows.append(
            {
                "number": number,
                "state": states.get(number, ""),
                **{key: _money_str(value) for key, value in row.items()},
                "outstanding": _money_str(_outstanding(row)),
            }
        )
    return rows
