"""Reads of early warnings, watched subjects and public opinion, by what the person may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from alerts.domain.indicators import Indicator
from alerts.domain.risk import LEVELS, WarningState
from alerts.models import (
    INDICATOR_LABELS,
    EarlyWarning,
    OpinionItem,
    Reading,
    RiskRule,
    RiskSubject,
)
from alerts.policy import warning_moves, warnings_visible
from incidents.models import Case
from incidents.policy import Actor
from incidents.selectors import iso


@dataclass(frozen=True)
class WarningFilters:
    state: str | None = None
    level: str | None = None
    unit: str | None = None
    overdue: bool | None = None


def warning_rows(qs: QuerySet[EarlyWarning]) -> QuerySet[EarlyWarning]:
    return qs.select_related("subject__enterprise__town", "subject__project", "unit", "case")


def warning_list(
    actor: Actor, filters: WarningFilters, *, now: datetime | None = None
) -> QuerySet[EarlyWarning]:
    """The warnings the person may see, newest first, filtered."""
    now = now or timezone.now()
    qs = warning_rows(warnings_visible(actor))
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.level:
        qs = qs.filter(level=filters.level)
    if filters.unit:
        qs = qs.filter(unit__code=filters.unit)
    if filters.overdue is True:
        qs = qs.filter(overdue_q(now))
    elif filters.overdue is False:
        qs = qs.exclude(overdue_q(now))
    return qs.order_by("-raised_at", "-id")


def subject_positions(subjects: list[RiskSubject]) -> dict[int, tuple[float, float]]:
    """Where each subject is drawn: a project's site; an enterprise's latest positioned case,
    else its town's centre. Subjects with no position are left out."""
    found: dict[int, tuple[float, float]] = {}
    by_enterprise: dict[int, int] = {}
    for s in subjects:
        if s.project_id and s.project and s.project.lat is not None and s.project.lng is not None:
            found[s.pk] = (s.project.lat, s.project.lng)
        elif s.enterprise_id:
            by_enterprise[s.enterprise_id] = s.pk
    if by_enterprise:
        rows = (
            Case.objects.filter(employer_id__in=by_enterprise, lat__isnull=False, lng__isnull=False)
            .order_by("employer_id", "-received_at")
            .values_list("employer_id", "lat", "lng")
        )
        for employer_id, lat, lng in rows:
            if lat is not None and lng is not None:
                found.setdefault(by_enterprise[employer_id], (lat, lng))
        for s in subjects:
            town = s.enterprise.town if s.enterprise_id and s.enterprise else None
            if s.pk in found or town is None:
                continue
            if town.lat is not None and town.lng is not None:
                found[s.pk] = (town.lat, town.lng)
    return found


def rule_names(district_id: int) -> dict[str, str]:
    return {r.code: r.name for r in RiskRule.objects.filter(district_id=district_id)}


def is_overdue(warning: EarlyWarning, now: datetime) -> bool:
    """Still waiting for its unit to intervene after its due time (accepting meets it)."""
    return warning.state == WarningState.OPEN and (
        warning.overdue_at is not None or warning.due_at < now
    )


def overdue_q(now: datetime) -> Q:
    return Q(state=WarningState.OPEN) & (Q(overdue_at__isnull=False) | Q(due_at__lt=now))


def warning_summary(
    warning: EarlyWarning, names: dict[str, str], *, now: datetime | None = None
) -> dict[str, Any]:
    now = now or timezone.now()
    return {
        "id": warning.pk,
        "code": warning.code,
        "subject": warning.subject.reference,
        "subject_name": warning.subject.label,
        "level": warning.level,
        "score": warning.score,
        "reasons": [
            {
                "rule": r["rule"],
                "name": names.get(r["rule"], r["rule"]),
                "weight": r["weight"],
                "detail": r.get("detail", {}),
                "readings": r.get("readings", []),
            }
            for r in warning.reasons
        ],
        "state": warning.state,
        "unit": warning.unit.code if warning.unit else None,
        "raised_at": iso(warning.raised_at),
        "due_at": iso(warning.due_at),
        "overdue": is_overdue(warning, now),
        "accepted_at": iso(warning.accepted_at),
        "closed_at": iso(warning.closed_at),
        "outcome": warning.outcome,
        "outcome_note": warning.outcome_note,
        "case_number": warning.case.number if warning.case else None,
    }


def cited_readings(warning: EarlyWarning) -> list[Reading]:
    ids = sorted({i for r in warning.reasons for i in r.get("readings", [])})
    return list(
        Reading.objects.filter(pk__in=ids, subject_id=warning.subject_id).order_by(
            "indicator", "period_start", "id"
        )
    )


def reading_value(reading: Reading) -> str:
    if reading.text:
        return reading.text
    if reading.number is None:
        return ""
    return format(reading.number.normalize(), "f")


def warning_detail(warning: EarlyWarning, actor: Actor) -> dict[str, Any]:
    body = warning_summary(warning, rule_names(warning.district_id))
    body["readings"] = [
        {
            "id": r.pk,
            "source": r.source,
            "external_id": r.external_id,
            "indicator": r.indicator,
            "indicator_label": str(INDICATOR_LABELS[Indicator(r.indicator)]),
            "period": r.period_start.strftime("%Y-%m")
            if r.period_start != r.period_end
            else r.period_start.isoformat(),
            "value": reading_value(r),
            "reported_at": iso(r.reported_at),
        }
        for r in cited_readings(warning)
    ]
    body["actions"] = [a.value for a in warning_moves(actor, warning)]
    return body


@dataclass(frozen=True)
class WarningBoard:
    """The dashboard's early-warning panel: open warnings by level, and the latest few."""

    counts: dict[str, int]
    overdue: int
    latest: list[EarlyWarning]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def warning_board(actor: Actor, *, now: datetime | None = None, rows: int = 8) -> WarningBoard:
    now = now or timezone.now()
    open_qs = warnings_visible(actor).exclude(state=WarningState.CLOSED)
    counts = dict.fromkeys((lv.value for lv in LEVELS), 0)
    counts.update(dict(open_qs.values("level").annotate(n=Count("id")).values_list("level", "n")))
    overdue = open_qs.filter(overdue_q(now)).count()
    # Red first, then orange, then yellow; the newest first within a level.
    latest = sorted(
        warning_rows(open_qs).order_by("-raised_at")[:50],
        key=lambda w: (-[lv.value for lv in LEVELS].index(w.level), -w.raised_at.timestamp()),
    )[:rows]
    return WarningBoard(counts=counts, overdue=overdue, latest=latest)


def opinion_summary(item: OpinionItem, *, created: bool = False) -> dict[str, Any]:
    return {
        "id": item.pk,
        "source": item.source,
        "external_id": item.external_id,
        "text": item.text,
        "link": item.link,
        "reach": item.reach,
        "published_at": iso(item.published_at),
        "subject": item.subject.reference if item.subject else None,
        "incident": item.incident_id,
        "created": created,
    }
