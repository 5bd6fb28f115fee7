"""Monthly statistics and unit rankings, read from the event log.

Figures come from the events with `at` before the window's end, so that a past month reads
the same whatever happened since. The rules are in `command_center.domain.reports`; this
module only reads. Cases that a window handled are found through `Case.finished_at` (set once,
when the log first shows the case resolved, closed, merged or rejected) and `Case.created_at`
(when the registration event was written), both indexed, so the cost follows the cases of the
window, not the whole history.

`rankings_close` records each finished month's strikes once (`RankingMonth`, `UnitStrike`);
it is run by the beat and the embedded sweep, and is safe with several workers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import (
    Count,
    DecimalField,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import get_language

from command_center.domain import reports as rules
from command_center.domain.reports import (
    CaseFacts,
    Closure,
    IntakeGroup,
    RankingRow,
    Receipts,
    UnitRef,
    Weights,
    Window,
)
from command_center.models import RankingMonth, RankingSettings, UnitStrike
from incidents.events import event_record
from incidents.models import Case, District, Event, Unit
from incidents.services.common import local_tz

CHANNELS = [c.value for c in Case.Channel]
_MONEY = DecimalField(max_digits=16, decimal_places=2)


def window_for(first: date, last: date | None = None) -> Window:
    return rules.window_of(first, last or first, local_tz())


def settings_of(district_id: int) -> RankingSettings:
    found = RankingSettings.objects.filter(district_id=district_id).first()
    return found or RankingSettings(district_id=district_id)


def weights_of(row: RankingSettings) -> Weights:
    return Weights(advance=Decimal(row.advance_points), overdue=Decimal(row.overdue_points))


# --- reading the log ------------------------------------------------------------------------


def _events(district_id: int, kind: str, window: Window) -> QuerySet[Event]:
    return Event.objects.filter(
        district_id=district_id, kind=kind, at__gte=window.start, at__lt=window.end
    )


def intake_groups(district_id: int, window: Window) -> list[IntakeGroup]:
    """Registrations in the window, grouped by channel and construction or not."""
    rows = (
        _events(district_id, "case.registered", window)
        .annotate(channel=KT("data__channel"))
        .values("channel")
        .annotate(
            cases=Count("id"),
            construction_cases=Count("id", filter=Q(data__construction=True)),
            workers=Sum(Cast(KT("data__workers_count"), IntegerField())),
            amount=Sum(Cast(KT("data__amount_owed"), _MONEY)),
        )
        .order_by()
    )
    return [
        IntakeGroup(
            channel=r["channel"] or "",
            cases=r["cases"],
            construction_cases=r["construction_cases"],
            workers=r["workers"] or 0,
            amount=Decimal(r["amount"] or 0).quantize(Decimal("0.01")),
        )
        for r in rows
    ]


def _handled_candidates(district_id: int, window: Window) -> QuerySet[Case]:
    """Cases registered before the end that had not finished before the start."""
    return Case.objects.filter(district_id=district_id, created_at__lt=window.end).filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=window.start)
    )


def case_facts(district_id: int, window: Window) -> list[CaseFacts]:
    """What the log says, up to the window's end, of every case the window may have handled."""
    events = Event.objects.filter(
        case_id__in=_handled_candidates(district_id, window).values("pk"), at__lt=window.end
    )
    # Resolved/closed and merged/rejected never happen to the same case (the transition
    # table), so the first concluding event tells how a finished case finished.
    per_case = list(
        events.values("case_id")
        .annotate(
            registered_at=Min("at", filter=Q(kind="case.registered")),
            finished_at=Min("at", filter=Q(after__in=sorted(rules.FINISHED_STATES))),
            concluded_at=Min("at", filter=Q(after__in=sorted(rules.CONCLUDED_STATES))),
            escalations=Count("id", filter=Q(after__in=sorted(rules.ESCALATED_STATES))),
            advances=Count("id", filter=Q(kind="fund.advance")),
            last_id=Max("id"),
        )
        .order_by()
    )
    units: dict[int, int | None] = {}
    for chunk in _chunks([r["last_id"] for r in per_case], 5000):
        for case_id, unit in Event.objects.filter(pk__in=chunk).values_list(
            "case_id", KT("data__unit_id")
        ):
            units[case_id] = int(unit) if unit not in (None, "", "null") else None
    return [
        CaseFacts(
            case_id=r["case_id"],
            registered_at=r["registered_at"],
            unit_id=units.get(r["case_id"]),
            finished_at=r["finished_at"],
            finished_state=(
                "resolved"
                if r["concluded_at"] is not None
                else ("merged" if r["finished_at"] is not None else "")
            ),
            escalated=r["escalations"] > 0,
            advanced=r["advances"] > 0,
        )
        for r in per_case
        if r["registered_at"] is not None
    ]


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _per_unit(district_id: int, kind: str, window: Window) -> dict[int, int]:
    rows = (
        _events(district_id, kind, window)
        .annotate(unit=KT("data__unit_id"))
        .values("unit")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {int(r["unit"]): r["n"] for r in rows if r["unit"] not in (None, "", "null")}


def fund_total(district_id: int, kind: str, start: datetime, end: datetime) -> Decimal:
    """The money of the district's `fund.advance` or `fund.recovery` events in [start, end)."""
    total = Event.objects.filter(
        district_id=district_id, kind=kind, at__gte=start, at__lt=end
    ).aggregate(total=Sum(Cast(KT("data__amount"), _MONEY)))["total"]
    return Decimal(total or 0).quantize(Decimal("0.01"))


def unit_refs(district_id: int, *, involved: Iterable[int | None] = ()) -> list[UnitRef]:
    """The district's active units, and any unit `involved` in the window's figures (a unit
    deactivated since still answers for its past months)."""
    ids = [i for i in involved if i is not None]
    return [
        UnitRef(id=u.pk, code=u.code, name_zh=u.name_zh, name_en=u.name_en)
        for u in Unit.objects.filter(district_id=district_id)
        .filter(Q(active=True) | Q(pk__in=ids))
        .order_by("code")
    ]


# --- the monthly statistics -----------------------------------------------------------------


@dataclass(frozen=True)
class Monthly:
    window: Window
    receipts: Receipts
    prior: Receipts | None
    closure: Closure
    fund_advanced: Decimal
    fund_recovered: Decimal
    units: list[UnitRef]
    series: list[tuple[date, Receipts]]


def monthly_report(*, district_id: int, window: Window) -> Monthly:
    """The district's statistics for the window, with the same period a year before."""
    row = settings_of(district_id)
    groups = intake_groups(district_id, window)
    current = rules.receipts(groups, CHANNELS)
    prior_window = window.shifted(-12, local_tz())
    prior_groups = intake_groups(district_id, prior_window)
    prior = rules.receipts(prior_groups, CHANNELS) if prior_groups else None
    facts = case_facts(district_id, window)
    closure = rules.closure(facts, window, long_open_days=row.long_open_days)
    series: list[tuple[date, Receipts]] = []
    if window.first != window.last:
        for month in window.months:
            series.append(
                (month, rules.receipts(intake_groups(district_id, window_for(month)), CHANNELS))
            )
    return Monthly(
        window=window,
        receipts=current,
        prior=prior,
        closure=closure,
        fund_advanced=fund_total(district_id, "fund.advance", window.start, window.end),
        fund_recovered=fund_total(district_id, "fund.recovery", window.start, window.end),
        units=unit_refs(district_id, involved=closure.by_unit),
        series=series,
    )


def _receipts_json(r: Receipts) -> dict[str, Any]:
    return {
        "cases_received": r.cases_received,
        "construction_cases": r.construction_cases,
        "workers": r.workers,
        "amount_owed": str(r.amount_owed),
        "by_channel": r.by_channel,
    }


def unit_name(ref: UnitRef) -> str:
    return ref.name_en if (get_language() or "").startswith("en") else ref.name_zh


def monthly_json(report: Monthly) -> dict[str, Any]:
    """The API's (and the CSV's) monthly figures."""
    c = report.closure
    names = {u.id: u for u in report.units}
    by_unit = []
    for unit_id, tally in sorted(
        c.by_unit.items(),
        key=lambda kv: (kv[0] is None, names[kv[0]].code if kv[0] in names else ""),
    ):
        ref = names.get(unit_id) if unit_id is not None else None
        by_unit.append(
            {
                "unit": ref.code if ref else None,
                "name": unit_name(ref) if ref else None,
                "handled": tally.handled,
                "concluded": tally.concluded,
                "closure_rate": tally.closure_rate,
                "meets_target": (tally.closure_rate or 0) >= rules.CLOSURE_TARGET,
            }
        )
    return {
        "period": report.window.label,
        "from": rules.month_label(report.window.first),
        "to": rules.month_label(report.window.last),
        **_receipts_json(report.receipts),
        "closure_rate": c.overall.closure_rate,
        "closure": {
            "target": rules.CLOSURE_TARGET,
            "handled": c.overall.handled,
            "concluded": c.overall.concluded,
            "by_unit": by_unit,
        },
        "open_at_end": c.open_at_end,
        "long_open": c.long_open,
        "fund": {"advanced": str(report.fund_advanced), "recovered": str(report.fund_recovered)},
        "yoy": rules.receipts_yoy(report.receipts, report.prior),
        "prior": _receipts_json(report.prior) if report.prior else None,
        "series": [{"month": rules.month_label(m), **_receipts_json(r)} for m, r in report.series],
    }


# --- the ranking and its strikes ------------------------------------------------------------


def ranking_compute(*, district_id: int, month: date) -> list[RankingRow]:
    """The units ranked for `month`, from the log alone (strikes are not part of it)."""
    window = window_for(month)
    row = settings_of(district_id)
    closure = rules.closure(
        case_facts(district_id, window), window, long_open_days=row.long_open_days
    )
    advances = _per_unit(district_id, "fund.advance", window)
    overdue = _per_unit(district_id, "clock.overdue", window)
    involved = {*closure.by_unit, *advances, *overdue}
    return rules.ranking_rows(
        unit_refs(district_id, involved=involved),
        closure.by_unit,
        advances=advances,
        overdue=overdue,
        weights=weights_of(row),
    )


def row_json(row: RankingRow, strike: UnitStrike | None) -> dict[str, Any]:
    return {
        "unit": row.unit.code,
        "name": unit_name(row.unit),
        "cases": row.cases,
        "self_resolved": row.self_resolved,
        "self_resolution_rate": row.self_resolution_rate,
        "fund_advances": row.fund_advances,
        "overdue": row.overdue,
        "points_deducted": str(row.points_deducted),
        "score": str(row.score) if row.score is not None else None,
        "rank": row.rank,
        "strike": (
            {
                "step": strike.step,
                "count": strike.count,
                "consequence": strike.consequence,
                "label": strike.consequence_label,
            }
            if strike
            else None
        ),
    }


def month_is_over(month: date, now: datetime) -> bool:
    return window_for(month).end <= now


def ranking_json(*, district_id: int, month: date, now: datetime) -> dict[str, Any]:
    """The ranking of `month` with its strikes: recorded once the month is closed."""
    rows = ranking_compute(district_id=district_id, month=month)
    strikes = {
        s.unit_id: s for s in UnitStrike.objects.filter(district_id=district_id, month=month)
    }
    closed = RankingMonth.objects.filter(district_id=district_id, month=month).exists()
    return {
        "month": rules.month_label(month),
        "final": closed,
        "provisional": not month_is_over(month, now),
        "rows": [row_json(r, strikes.get(r.unit.id)) for r in rows],
    }


def _first_month(district_id: int) -> date | None:
    first = (
        Event.objects.filter(district_id=district_id, kind="case.registered")
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    return month_of(first) if first is not None else None


def month_of(moment: datetime) -> date:
    """The first day of the local month `moment` falls in."""
    local = timezone.localtime(moment, local_tz())
    return date(local.year, local.month, 1)


def rankings_close(*, district_id: int, now: datetime) -> list[date]:
    """Record the strikes of every finished month not closed yet, oldest first; returns them.

    A strike's count follows the district's policy (`RankingSettings.strike_window`) over the
    strikes already recorded, so months are closed in order. Two workers closing the same
    month: the unique constraint lets one of them write it.
    """
    first = _first_month(district_id)
    if first is None:
        return []
    current = month_of(now)
    last_closed = (
        RankingMonth.objects.filter(district_id=district_id)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    month = rules.month_add(last_closed, 1) if last_closed else first
    closed: list[date] = []
    policy = settings_of(district_id)
    while month < current:
        try:
            with transaction.atomic():
                _close_month(district_id, month, policy, now)
            closed.append(month)
        except IntegrityError:
            pass  # another worker closed it first
        month = rules.month_add(month, 1)
    return closed


def _close_month(district_id: int, month: date, policy: RankingSettings, now: datetime) -> None:
    rows = ranking_compute(district_id=district_id, month=month)
    RankingMonth.objects.create(
        district_id=district_id,
        month=month,
        closed_at=now,
        rows=[row_json(r, None) for r in rows],
    )
    window = rules.StrikeWindow(policy.strike_window)
    for row in rules.last_ranked(rows):
        earlier = UnitStrike.objects.filter(unit_id=row.unit.id, month__lt=month).values_list(
            "month", flat=True
        )
        count = rules.strike_count(earlier, month, window=window, months=policy.strike_months)
        step = rules.strike_step(count)
        strike = UnitStrike.objects.create(
            district_id=district_id,
            unit_id=row.unit.id,
            month=month,
            count=count,
            step=step,
            consequence=rules.CONSEQUENCE_BY_STEP[step].value,
            score=row.score or Decimal(0),
            recorded_at=now,
        )
        event_record(
            at=now,
            district=district_id,
            kind="ranking.strike",
            actor=None,
            units=[row.unit.id],
            data={
                "unit_id": row.unit.id,
                "unit": row.unit.code,
                "month": rules.month_label(month),
                "rank": row.rank,
                "score": str(row.score),
                "count": count,
                "step": step,
                "consequence": strike.consequence,
            },
        )


def rankings_close_all(*, now: datetime | None = None) -> int:
    """Close finished months in every district; returns how many months were closed."""
    now = now or timezone.now()
    return sum(
        len(rankings_close(district_id=pk, now=now))
        for pk in District.objects.values_list("pk", flat=True)
    )


def strikes_of(unit_id: int) -> QuerySet[UnitStrike]:
    return UnitStrike.objects.filter(unit_id=unit_id).order_by("-month")
