"""Early warning: taking readings in, scoring subjects, and the warnings that follow.

Readings are stored first, in the caller's transaction, and each subject they touch has its
`version` raised; scoring runs after commit (a Celery task, or in-process when there is no
broker) and again from the periodic sweep, which also picks up whatever a lost task left
due. Scoring reads the readings in bulk, a batch of subjects at a time, evaluates the
district's rules (`alerts.domain.risk`), stores each subject's score and level, and opens or
raises warnings. A warning is routed by the same table as cases, has its own clock (red:
intervene within one working day) and pages the unit when it is red or overdue.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.domain import messages, risk
from alerts.domain.duty import Reason
from alerts.domain.indicators import (
    Indicator,
    ParsedReading,
    Period,
    ReadingError,
    Subject,
    subject_parse,
)
from alerts.domain.risk import (
    Assessment,
    Change,
    Level,
    Outcome,
    RuleSpec,
    SubjectKind,
    WarningAction,
    WarningState,
)
from alerts.models import (
    LEVEL_LABELS,
    Alert,
    EarlyWarning,
    OpinionItem,
    Reading,
    RiskRule,
    RiskSettings,
    RiskSubject,
)
from alerts.policy import check_record_opinion, check_send_readings, check_warning_move
from alerts.services.common import local_day, local_tz, public_link
from alerts.services.outbox import LONGEST_REFERENCE
from alerts.services.paging import _zh, alert_raise, alerts_cancel
from incidents.domain import routing, workdays
from incidents.domain.lifecycle import OPEN_STATES
from incidents.errors import Conflict, Invalid, NotFound
from incidents.events import event_record
from incidents.models import BlacklistEntry, Case, District, Enterprise, Incident, Project, Unit
from incidents.policy import Actor
from incidents.services.common import district_calendar
from incidents.services.intake import routing_rules_of, unit_kinds_of

log = logging.getLogger(__name__)

# Rules look back at most a year; a little more covers a month's baseline before that.
LOOKBACK = timedelta(days=400)
# Every subject is scored at least this often, since time alone can meet a rule.
RESCORE_AFTER = timedelta(hours=20)
_OPEN_CASE_STATES = sorted(s.value for s in OPEN_STATES)
_LISTED = (BlacklistEntry.Status.LISTED, BlacklistEntry.Status.APPEALED)


# --- ingest -------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What a batch of readings did: stored, already held, and refused (by position)."""

    accepted: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    subject_ids: set[int] = field(default_factory=set)
    registered: int = 0


class SubjectCache:
    """Subjects resolved so far in one import, so a file's rows do not look them up again."""

    def __init__(self, district_id: int) -> None:
        self.district_id = district_id
        self.ids: dict[tuple[str, str], int] = {}
        self.registered = 0

    def resolve(self, subjects: Iterable[Subject], now: datetime) -> dict[tuple[str, str], int]:
        """Subject ids by key; an unknown enterprise is registered, an unknown project is not
        (it is left out: the reading is refused)."""
        wanted = {s.key for s in subjects} - set(self.ids)
        codes = {code for kind, code in wanted if kind == "enterprise"}
        projects = {code for kind, code in wanted if kind == "project"}
        if codes:
            known = dict(
                Enterprise.objects.filter(
                    district_id=self.district_id, credit_code__in=codes
                ).values_list("credit_code", "pk")
            )
            missing = codes - set(known)
            if missing:
                Enterprise.objects.bulk_create(
                    [
                        Enterprise(
                            district_id=self.district_id,
                            credit_code=c,
                            name="",
                            registered_by_reading=True,
                        )
                        for c in sorted(missing)
                    ],
                    ignore_conflicts=True,
                )
                self.registered += len(missing)
                known = dict(
                    Enterprise.objects.filter(
                        district_id=self.district_id, credit_code__in=codes
                    ).values_list("credit_code", "pk")
                )
            by_enterprise = _subjects_for("enterprise", known.values(), self.district_id, now)
            for code, pk in known.items():
                self.ids[("enterprise", code)] = by_enterprise[pk]
        if projects:
            known = dict(
                Project.objects.filter(district_id=self.district_id, code__in=projects)
                .exclude(code="")
                .values_list("code", "pk")
            )
            by_project = _subjects_for("project", known.values(), self.district_id, now)
            for code, pk in known.items():
                self.ids[("project", code)] = by_project[pk]
        return self.ids


def _subjects_for(
    field_name: str, ids: Iterable[int], district_id: int, now: datetime
) -> dict[int, int]:
    """RiskSubject ids for enterprise or project ids, made where missing."""
    wanted = set(ids)
    column = f"{field_name}_id"
    found = dict(RiskSubject.objects.filter(**{f"{column}__in": wanted}).values_list(column, "pk"))
    missing = wanted - set(found)
    if missing:
        RiskSubject.objects.bulk_create(
            [
                RiskSubject(district_id=district_id, first_seen_at=now, **{column: pk})
                for pk in sorted(missing)
            ],
            ignore_conflicts=True,
        )
        found = dict(
            RiskSubject.objects.filter(**{f"{column}__in": wanted}).values_list(column, "pk")
        )
    return found


def readings_store(
    *,
    district_id: int,
    batch: Sequence[tuple[int, ParsedReading]],
    now: datetime,
    cache: SubjectCache | None = None,
) -> BatchResult:
    """Store a batch of checked readings (each with its position); call inside a transaction.

    A reading whose source and id are already held is a duplicate when it says the same,
    and refused when it says something else; a reading about a project the hub does not
    know is refused. Refused readings are reported by position and not stored; the rest are.
    """
    result = BatchResult()
    cache = cache or SubjectCache(district_id)
    registered_before = cache.registered
    held: dict[tuple[str, str], tuple[Any, ...]] = {}
    by_source: dict[str, set[str]] = defaultdict(set)
    for _i, r in batch:
        by_source[r.source].add(r.external_id)
    for source, ids in by_source.items():
        for ext, code, project, ind, start, end, number, text in Reading.objects.filter(
            district_id=district_id, source=source, external_id__in=ids
        ).values_list(
            "external_id",
            "subject__enterprise__credit_code",
            "subject__project__code",
            "indicator",
            "period_start",
            "period_end",
            "number",
            "text",
        ):
            key = ("project", project) if project else ("enterprise", code)
            held[(source, ext)] = (key, ind, Period(start, end), number, text)
    fresh: list[tuple[int, ParsedReading]] = []
    for index, r in batch:
        ident = (r.source, r.external_id)
        if ident in held:
            if held[ident] == r.content:
                result.duplicates += 1
            else:
                result.errors.append(
                    (index, "id", "already received from this source with different content")
                )
            continue
        held[ident] = r.content
        fresh.append((index, r))
    # Only readings that will be stored register the enterprises they are about.
    subject_ids = cache.resolve((r.subject for _i, r in fresh), now)
    rows = []
    for index, r in fresh:
        subject_id = subject_ids.get(r.subject.key)
        if subject_id is None:
            result.errors.append((index, "subject.project", "no project has this code"))
            continue
        result.subject_ids.add(subject_id)
        rows.append(
            Reading(
                district_id=district_id,
                source=r.source,
                external_id=r.external_id,
                subject_id=subject_id,
                indicator=r.indicator.value,
                period_start=r.period.start,
                period_end=r.period.end,
                number=r.number,
                text=r.text,
                # A feed's clock a little ahead of the hub's is not a reading from the future.
                reported_at=min(r.reported_at or now, now),
                received_at=now,
            )
        )
    # A reading a concurrent request stored meanwhile is skipped, not doubled.
    Reading.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    result.accepted = len(rows)
    result.registered = cache.registered - registered_before
    if result.subject_ids:
        RiskSubject.objects.filter(pk__in=result.subject_ids).update(version=F("version") + 1)
    return result


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    subjects: int
    registered: int


def readings_ingest(
    *, actor: Actor, readings: Sequence[ParsedReading], now: datetime | None = None
) -> IngestResult:
    """Take a batch of readings from a feed: all of it, or (`Invalid`) none of it."""
    check_send_readings(actor)
    now = now or timezone.now()
    with transaction.atomic():
        result = readings_store(
            district_id=actor.district_id, batch=list(enumerate(readings)), now=now
        )
        if result.errors:
            transaction.set_rollback(True)
            raise Invalid(
                _("Some readings were refused; none was stored."),
                [
                    {"field": f"readings.{i}.{name}", "message": message}
                    for i, name, message in result.errors
                ],
            )
        scoring_schedule(actor.district_id, result.subject_ids)
    return IngestResult(
        result.accepted, result.duplicates, len(result.subject_ids), result.registered
    )


def scoring_schedule(district_id: int, subject_ids: Iterable[int] | None = None) -> None:
    """After commit, score the named subjects (every subject that is due when None).

    If the task cannot be queued (the broker is down), the periodic sweep scores them: their
    version is already above what was scored.
    """
    ids = None if subject_ids is None else sorted(subject_ids)
    if ids is not None and not ids:
        return
    if ids is not None and len(ids) > 1000:
        ids = None  # a big batch: score whatever is due rather than pass thousands of ids

    def kick() -> None:
        from alerts.tasks import score_risk

        try:
            score_risk.delay(district_id, ids)
        except Exception:  # the broker is down: the sweep catches up
            log.warning("risk scoring not queued for district %s", district_id, exc_info=True)

    transaction.on_commit(kick)


# --- rules and settings -------------------------------------------------------------------


def risk_rules_install_defaults(*, district_id: int) -> int:
    """Give a district the default rules it does not have yet; returns how many were added."""
    have = set(RiskRule.objects.filter(district_id=district_id).values_list("code", flat=True))
    rows = [
        RiskRule(
            district_id=district_id,
            code=rule.code,
            name_zh=_DEFAULT_NAMES[rule.code][0],
            name_en=_DEFAULT_NAMES[rule.code][1],
            kind=rule.kind.value,
            indicator=rule.indicator.value if rule.indicator else "",
            params=dict(rule.params),
            applies_to=rule.applies_to.value if rule.applies_to else "",
            weight=rule.weight,
        )
        for rule in risk.DEFAULT_RULES
        if rule.code not in have
    ]
    RiskRule.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


_DEFAULT_NAMES = {
    "electricity_drop": ("用电量骤降", "Electricity use halved"),
    "water_drop": ("用水量骤降", "Water use halved"),
    "gas_drop": ("用气量骤降", "Gas use halved"),
    "workforce_drop": ("实名制用工人数骤减", "Registered workforce halved"),
    "no_payroll": ("工资专户30日未代发工资", "No payroll from the wage account for 30 days"),
    "wage_inflow_drop": ("工资专户入账骤减", "Wage account inflow halved"),
    "fund_disbursed_drop": ("工程款拨付骤减", "Project fund disbursement halved"),
    "tax_rating_d": ("纳税信用D级", "Tax credit rating D"),
    "tax_rating_c": ("纳税信用C级", "Tax credit rating C"),
    "property_fees_unpaid": ("物业费欠缴3个月", "Property fees unpaid for 3 months"),
    "system_missing": ("六项制度未落实", "A construction system is missing"),
    "open_cases": ("存在未结欠薪案件", "Open wage-arrears cases"),
    "blacklisted": ("列入欠薪黑名单", "On the wage-arrears blacklist"),
    "public_opinion": ("网络舆情关注", "Public opinion online"),
}


def risk_rules(district_id: int) -> list[RuleSpec]:
    """The district's active rules (the defaults are installed the first time); a rule that
    cannot be evaluated is logged and left out rather than stopping every score."""
    if not RiskRule.objects.filter(district_id=district_id).exists():
        risk_rules_install_defaults(district_id=district_id)
    specs = []
    for row in RiskRule.objects.filter(district_id=district_id, active=True):
        try:
            specs.append(row.spec())
        except risk.RuleError:
            log.exception("risk rule %s of district %s is broken; skipped", row.code, district_id)
    return specs


def risk_settings(district_id: int) -> RiskSettings:
    found, _created = RiskSettings.objects.get_or_create(district_id=district_id)
    return found


# --- scoring ------------------------------------------------------------------------------


@dataclass
class ScoreRun:
    scored: int = 0
    opened: int = 0
    raised: int = 0


def risk_score(
    *,
    district_id: int,
    now: datetime | None = None,
    subject_ids: Sequence[int] | None = None,
    batch: int = 500,
) -> ScoreRun:
    """Score the named subjects, or every subject that is due (new readings, or not scored
    for a while), and open or raise their warnings."""
    now = now or timezone.now()
    rules = risk_rules(district_id)
    row = risk_settings(district_id)
    thresholds = row.thresholds
    qs = RiskSubject.objects.filter(district_id=district_id)
    if subject_ids is not None:
        qs = qs.filter(pk__in=subject_ids)
    else:
        qs = qs.filter(
            Q(version__gt=F("scored_version"))
            | Q(scored_at__isnull=True)
            | Q(scored_at__lt=now - RESCORE_AFTER)
        )
    run = ScoreRun()
    last = 0
    while True:
        chunk = list(
            qs.filter(pk__gt=last)
            .order_by("pk")
            .select_related("enterprise", "project", "project__contractor")[:batch]
        )
        if not chunk:
            return run
        last = chunk[-1].pk
        assessments = _assess_batch(chunk, rules, thresholds, now)
        for subject in chunk:
            assessment = assessments[subject.pk]
            subject.score = assessment.score
            subject.level = assessment.level.value if assessment.level else ""
            subject.hits = [_hit_json(h) for h in assessment.hits]
            subject.scored_at = now
            # What was read, not what is there now: a later reading leaves it due again.
            subject.scored_version = subject.version
        RiskSubject.objects.bulk_update(
            chunk, ["score", "level", "hits", "scored_at", "scored_version"]
        )
        run.scored += len(chunk)
        flagged = [s for s in chunk if assessments[s.pk].level is not None]
        if flagged:
            opened, raised = _warnings_follow(flagged, assessments, row, now)
            run.opened += opened
            run.raised += raised


def _hit_json(hit: risk.Hit) -> dict[str, Any]:
    return {
        "rule": hit.rule,
        "weight": hit.weight,
        "detail": dict(hit.detail),
        "readings": list(hit.readings),
    }


def _assess_batch(
    subjects: list[RiskSubject],
    rules: list[RuleSpec],
    thresholds: risk.Thresholds,
    now: datetime,
) -> dict[int, Assessment]:
    as_of = local_day(now)
    ids = [s.pk for s in subjects]
    series: dict[int, dict[Indicator, list[risk.Point]]] = defaultdict(lambda: defaultdict(list))
    for sid, ind, start, end, number, text, reported, rid in (
        Reading.objects.filter(
            subject_id__in=ids, reported_at__lte=now, period_end__gte=as_of - LOOKBACK
        )
        .values_list(
            "subject_id",
            "indicator",
            "period_start",
            "period_end",
            "number",
            "text",
            "reported_at",
            "id",
        )
        .iterator(chunk_size=5000)
    ):
        series[sid][Indicator(ind)].append(
            risk.Point(Period(start, end), number, text, reported, rid)
        )
    enterprise_ids = {s.enterprise_id for s in subjects if s.enterprise_id}
    project_ids = {s.project_id for s in subjects if s.project_id}
    open_by_employer = dict(
        Case.objects.filter(employer_id__in=enterprise_ids, state__in=_OPEN_CASE_STATES)
        .values("employer_id")
        .annotate(n=Count("id"))
        .values_list("employer_id", "n")
    )
    open_by_project = dict(
        Case.objects.filter(project_id__in=project_ids, state__in=_OPEN_CASE_STATES)
        .values("project_id")
        .annotate(n=Count("id"))
        .values_list("project_id", "n")
    )
    contractors = {
        s.project.contractor_id for s in subjects if s.project and s.project.contractor_id
    }
    listed = set(
        BlacklistEntry.objects.filter(
            enterprise_id__in=enterprise_ids | contractors, status__in=_LISTED
        ).values_list("enterprise_id", flat=True)
    )
    opinions: dict[int, list[risk.Opinion]] = defaultdict(list)
    for sid, published, reach, oid in OpinionItem.objects.filter(
        subject_id__in=ids, published_at__lte=now, published_at__gte=now - LOOKBACK
    ).values_list("subject_id", "published_at", "reach", "id"):
        opinions[sid].append(risk.Opinion(local_day(published), reach, oid))
    out = {}
    for s in subjects:
        if s.project_id:
            kind = SubjectKind.PROJECT
            open_cases = open_by_project.get(s.project_id, 0)
            blacklisted = bool(s.project and s.project.contractor_id in listed)
        else:
            kind = SubjectKind.ENTERPRISE
            open_cases = open_by_employer.get(s.enterprise_id or 0, 0)
            blacklisted = s.enterprise_id in listed
        facts = risk.Facts(
            kind=kind,
            series=series.get(s.pk, {}),
            open_cases=open_cases,
            blacklisted=blacklisted,
            opinions=opinions.get(s.pk, ()),
        )
        out[s.pk] = risk.assess(rules, facts, as_of, thresholds)
    return out


# --- warnings -----------------------------------------------------------------------------


def _warnings_follow(
    subjects: list[RiskSubject],
    assessments: dict[int, Assessment],
    row: RiskSettings,
    now: datetime,
) -> tuple[int, int]:
    ids = [s.pk for s in subjects]
    open_levels = dict(
        EarlyWarning.objects.filter(subject_id__in=ids)
        .exclude(state=WarningState.CLOSED)
        .values_list("subject_id", "level")
    )
    closed: dict[int, risk.Closed] = {}
    for sid, level, reasons in (
        EarlyWarning.objects.filter(subject_id__in=ids, state=WarningState.CLOSED)
        .order_by("subject_id", "closed_at", "id")
        .values_list("subject_id", "level", "reasons")
    ):
        closed[sid] = risk.Closed(Level(level), frozenset(r["rule"] for r in reasons))
    opened = raised = 0
    for subject in subjects:
        assessment = assessments[subject.pk]
        change = risk.warning_change(
            assessment,
            open_level=Level(open_levels[subject.pk]) if subject.pk in open_levels else None,
            last_closed=closed.get(subject.pk),
        )
        if change is Change.OPEN:
            opened += _warning_open(subject, assessment, row, now)
        elif change is Change.RAISE:
            raised += _warning_raise(subject, assessment, row, now)
    return opened, raised


def _due(district_id: int, level: Level, row: RiskSettings, now: datetime) -> datetime:
    """The end of the n-th working day after today (red: 1)."""
    clock = risk.WarningClock(row.red_workdays, row.orange_workdays, row.yellow_workdays)
    today = local_day(now)
    calendar = district_calendar(district_id, {today.year, today.year + 1})
    return workdays.end_of_day(calendar.add_workdays(today, clock.workdays(level)), local_tz())


def _route(subject: RiskSubject) -> routing.Decision:
    """Who answers for the subject, by the table that routes cases."""
    district_id = subject.district_id
    builder = None
    if subject.project is not None:
        project_type: routing.ProjectType | None = routing.ProjectType(subject.project.type)
        town = subject.project.town
        builder = subject.project.builder
    else:
        project_type = None
        enterprise = subject.enterprise
        town = enterprise.town if enterprise else None
        if town is None and enterprise is not None:
            latest = (
                Case.objects.filter(employer=enterprise)
                .order_by("-received_at")
                .select_related("town")
                .first()
            )
            town = latest.town if latest else None
    # With no town known, a rule naming a bureau or a builder still decides.
    return routing.route(
        routing_rules_of(district_id),
        project_type=project_type,
        town=town.code if town is not None else "",
        builder=builder.code if builder else None,
        unit_kinds=unit_kinds_of(district_id),
    )


def warning_data(warning: EarlyWarning) -> dict[str, Any]:
    """What every warning event carries: enough for the dashboard and the map to draw it."""
    from alerts.selectors_risk import subject_positions

    subject = warning.subject
    lat, lng = subject_positions([subject]).get(subject.pk, (None, None))
    return {
        "warning_id": warning.pk,
        "code": warning.code,
        "subject": subject.label,
        "subject_ref": subject.reference,
        "level": warning.level,
        "score": warning.score,
        "state": warning.state,
        "unit_id": warning.unit_id,
        "unit": warning.unit.code if warning.unit else None,
        "due_at": warning.due_at.isoformat(),
        "rules": [r["rule"] for r in warning.reasons],
        "lat": lat,
        "lng": lng,
    }


def _warning_event(
    warning: EarlyWarning, kind: str, now: datetime, actor: Actor | None = None, **extra: Any
) -> None:
    event_record(
        at=now,
        district=warning.district_id,
        kind=kind,
        actor=actor,
        units=[warning.unit_id] if warning.unit_id else [],
        reason=extra.pop("reason", ""),
        data={**warning_data(warning), **extra},
    )


def _warning_open(
    subject: RiskSubject, assessment: Assessment, row: RiskSettings, now: datetime
) -> int:
    level = assessment.level
    if level is None:
        return 0
    decision = _route(subject)
    unit = (
        Unit.objects.get(district_id=subject.district_id, code=decision.responsible)
        if decision.responsible
        else None
    )
    try:
        with transaction.atomic():
            warning = EarlyWarning.objects.create(
                district_id=subject.district_id,
                code=f"tmp-{uuid.uuid4().hex[:24]}",
                subject=subject,
                level=level.value,
                score=assessment.score,
                reasons=[_hit_json(h) for h in assessment.hits],
                unit=unit,
                routing_note=decision.reason[:200],
                raised_at=now,
                due_at=_due(subject.district_id, level, row, now),
            )
            warning.code = f"YJ-{local_day(now).year}-{warning.pk:06d}"
            warning.save(update_fields=["code"])
            _warning_event(warning, "warning.raised", now)
            if level is Level.RED:
                _page_red(warning, now)
    except IntegrityError:
        return 0  # another worker opened it meanwhile (one open warning per subject)
    return 1


def _warning_raise(
    subject: RiskSubject, assessment: Assessment, row: RiskSettings, now: datetime
) -> int:
    level = assessment.level
    if level is None:
        return 0
    with transaction.atomic():
        warning = (
            EarlyWarning.objects.select_for_update()
            .filter(subject=subject)
            .exclude(state=WarningState.CLOSED)
            .first()
        )
        if warning is None or level.rank <= Level(warning.level).rank:
            return 0
        was = warning.level
        warning.level = level.value
        warning.score = assessment.score
        warning.reasons = [_hit_json(h) for h in assessment.hits]
        if warning.state == WarningState.OPEN:
            warning.due_at = min(warning.due_at, _due(subject.district_id, level, row, now))
        warning.revision += 1
        warning.save()
        _warning_event(warning, "warning.level_raised", now, was=was)
        if level is Level.RED and warning.state == WarningState.OPEN:
            _page_red(warning, now)
    return 1


def _page_red(warning: EarlyWarning, now: datetime) -> None:
    alert_raise(
        district_id=warning.district_id,
        key=_alert_key(warning, "red"),
        reason=Reason.WARNING_RAISED,
        unit=warning.unit,
        params=_sms_params(warning),
        now=now,
    )


# Characters of a subject's name an SMS carries: two segments hold the rest of the text.
SMS_SUBJECT_CHARS = 10


def _sms_subject(subject: RiskSubject) -> str:
    """The subject as an SMS names it: its name cut short, or for an enterprise known only by
    its credit code, the code's last six characters (a whole code could read as an ID). Both
    are at most `SMS_SUBJECT_CHARS`, so that the page stays within two segments."""
    if subject.project is None and subject.enterprise is not None and not subject.enterprise.name:
        return f"尾号{subject.enterprise.credit_code[-6:]}企业"
    name = subject.label
    return name if len(name) <= SMS_SUBJECT_CHARS else name[: SMS_SUBJECT_CHARS - 1] + "…"


def _sms_params(warning: EarlyWarning) -> dict[str, str]:
    due = warning.due_at.astimezone(local_tz())
    params = {
        "level": _zh(LEVEL_LABELS[Level(warning.level)]),
        "code": warning.code,
        "subject": _sms_subject(warning.subject),
        "due": f"{due.month}月{due.day}日{due.hour:02d}:{due.minute:02d}",
        "link": public_link(f"/alerts/warnings/{warning.pk}/"),
    }
    params["subject"] = _subject_fitted(params)
    return params


def _subject_fitted(params: dict[str, str]) -> str:
    """The subject, cut further where a long address or a large id leaves less room: the red
    page must stay within two segments whatever the deployment."""
    subject = params["subject"]
    template = messages.TEMPLATES["warning_raised"].text
    while len(subject) > 2:
        body = messages.SIGNATURE + template.format(
            **{**params, "subject": subject, "ref": LONGEST_REFERENCE}
        )
        if messages.segments(body) <= messages.MAX_SEGMENTS:
            break
        subject = subject[: len(subject) - 2] + "…"
    return subject


def warnings_sweep(*, now: datetime | None = None, batch: int = 200) -> int:
    """Mark warnings nobody intervened on by their due time overdue, and page about them."""
    now = now or timezone.now()
    due = list(
        EarlyWarning.objects.filter(
            state=WarningState.OPEN, overdue_at__isnull=True, due_at__lte=now
        )
        .select_related("subject__enterprise", "subject__project", "unit")
        .order_by("due_at")[:batch]
    )
    marked = 0
    for warning in due:
        with transaction.atomic():
            claimed = EarlyWarning.objects.filter(
                pk=warning.pk, state=WarningState.OPEN, overdue_at__isnull=True
            ).update(overdue_at=now)
            if not claimed:
                continue
            warning.overdue_at = now
            _warning_event(warning, "warning.overdue", now)
            alert_raise(
                district_id=warning.district_id,
                key=_alert_key(warning, "overdue"),
                reason=Reason.WARNING_OVERDUE,
                unit=warning.unit,
                params=_sms_params(warning),
                now=now,
            )
            marked += 1
    return marked


def _alert_key(warning: EarlyWarning, what: str) -> str:
    """`warning:<id>:<what>`; once reassigned, the new unit's alert gets a key of its own."""
    key = f"warning:{warning.pk}:{what}"
    held = Alert.objects.filter(key=key).only("unit_id").first()
    if held is None or held.unit_id == warning.unit_id:
        return key
    return f"{key}:unit:{warning.unit_id or 0}"


def _alert_keys(warning_id: int) -> list[str]:
    """The keys of every alert raised about the warning so far."""
    return list(
        Alert.objects.filter(key__startswith=f"warning:{warning_id}:").values_list("key", flat=True)
    )


def warning_get(actor: Actor, warning_id: int) -> EarlyWarning:
    from alerts.policy import warnings_visible

    found = (
        warnings_visible(actor)
        .select_related("subject__enterprise", "subject__project", "unit", "case")
        .filter(pk=warning_id)
        .first()
    )
    if found is None:
        raise NotFound(_("No such warning."))
    return found


@dataclass(frozen=True)
class WarningMove:
    action: WarningAction
    note: str = ""
    outcome: Outcome | None = None
    unit: str | None = None
    case_number: str | None = None


def warning_transition(
    *, actor: Actor, warning_id: int, move: WarningMove, now: datetime | None = None
) -> EarlyWarning:
    """Accept (intervene), close with an outcome, or reassign a warning; one event each."""
    now = now or timezone.now()
    with transaction.atomic():
        warning = warning_get(actor, warning_id)
        warning = (
            EarlyWarning.objects.select_for_update(of=("self",))
            .select_related("subject__enterprise", "subject__project", "unit", "case")
            .get(pk=warning.pk)
        )
        check_warning_move(actor, warning, move.action)
        try:
            target = risk.warning_move(WarningState(warning.state), move.action)
        except risk.IllegalWarningMove:
            raise Conflict(
                _("The warning is %(state)s: it cannot be moved that way now.")
                % {"state": warning.state_label}
            ) from None
        kind, extra = _apply(warning, move, actor, now)
        warning.state = target.value
        warning.revision += 1
        warning.save()
        _warning_event(warning, kind, now, actor=actor, reason=move.note, **extra)
        # Whoever was paged about it is paged no more: it is handled, closed, or someone
        # else's now (a reassigned red warning pages its new unit).
        keys = _alert_keys(warning.pk)
        transaction.on_commit(lambda: alerts_cancel(now=now, why=kind, keys=keys))
        if move.action is WarningAction.REASSIGN and warning.level == Level.RED:
            _page_red(warning, now)
    return warning


def _apply(
    warning: EarlyWarning, move: WarningMove, actor: Actor, now: datetime
) -> tuple[str, dict[str, Any]]:
    if move.action is WarningAction.ACCEPT:
        warning.accepted_at = now
        warning.accepted_by_id = actor.user_id
        return "warning.accepted", {"late": warning.due_at < now}
    if move.action is WarningAction.REASSIGN:
        unit = Unit.objects.filter(
            district_id=warning.district_id, code=move.unit or "", active=True
        ).first()
        if unit is None:
            raise Invalid(
                _("Choose a unit to assign the warning to."),
                [{"field": "unit", "message": _("no active unit has this code")}],
            )
        was = warning.unit.code if warning.unit else None
        warning.unit = unit
        warning.accepted_at = None
        warning.accepted_by = None
        # The new unit gets a clock of its own: overdue again only if it too lets it pass.
        warning.overdue_at = None
        warning.due_at = max(
            warning.due_at,
            _due(
                warning.district_id, Level(warning.level), risk_settings(warning.district_id), now
            ),
        )
        return "warning.reassigned", {"was": was}
    if move.outcome is None:
        raise Invalid(
            _("Say how the warning ended."),
            [{"field": "outcome", "message": _("choose an outcome")}],
        )
    if not move.note.strip():
        raise Invalid(
            _("A note on what was found is required."),
            [{"field": "note", "message": _("required")}],
        )
    if move.outcome is Outcome.CASE_OPENED:
        case = Case.objects.filter(
            district_id=warning.district_id, number=move.case_number or ""
        ).first()
        if case is None:
            raise Invalid(
                _("Name the case that was registered."),
                [{"field": "case_number", "message": _("no case has this number")}],
            )
        warning.case = case
    warning.outcome = move.outcome.value
    warning.outcome_note = move.note
    warning.closed_at = now
    warning.closed_by_id = actor.user_id
    return "warning.closed", {
        "outcome": move.outcome.value,
        "case_number": warning.case.number if warning.case else None,
    }


# --- public opinion -----------------------------------------------------------------------


@dataclass(frozen=True)
class OpinionInput:
    source: str
    text: str
    published_at: datetime
    external_id: str = ""
    link: str = ""
    reach: int = 0
    credit_code: str = ""
    project: str = ""
    incident_id: int | None = None


def opinion_record(
    *, actor: Actor, item: OpinionInput, now: datetime | None = None
) -> tuple[OpinionItem, bool]:
    """Record one item of public opinion, linked to an enterprise, a project or an incident.

    Idempotent by source and id (when an id is given): returns the item and whether it is
    new. Linked to an enterprise or project, it counts towards that subject's risk.
    """
    check_record_opinion(actor)
    now = now or timezone.now()
    district_id = actor.district_id
    subject = _opinion_subject(item)
    with transaction.atomic():
        if item.external_id:
            held = OpinionItem.objects.filter(
                district_id=district_id, source=item.source, external_id=item.external_id
            ).first()
            if held is not None:
                return held, False
        incident = None
        if item.incident_id is not None:
            incident = Incident.objects.filter(district_id=district_id, pk=item.incident_id).first()
            if incident is None:
                raise Invalid(
                    _("No such incident."),
                    [{"field": "subject.incident", "message": _("no incident has this id")}],
                )
        subject_id = None
        if subject is not None:
            subject_id = SubjectCache(district_id).resolve([subject], now).get(subject.key)
            if subject_id is None:
                raise Invalid(
                    _("No such project."),
                    [{"field": "subject.project", "message": _("no project has this code")}],
                )
        opinion = OpinionItem.objects.create(
            district_id=district_id,
            source=item.source,
            external_id=item.external_id,
            text=item.text,
            link=item.link,
            reach=item.reach,
            published_at=item.published_at,
            subject_id=subject_id,
            incident=incident,
            recorded_by_id=actor.user_id,
            created_at=now,
        )
        event_record(
            at=now,
            district=district_id,
            kind="opinion.recorded",
            actor=actor,
            incident=incident,
            data={
                "opinion_id": opinion.pk,
                "source": opinion.source,
                "text": opinion.text[:140],
                "reach": opinion.reach,
                "link": opinion.link,
                "subject": opinion.subject.label if opinion.subject else None,
            },
        )
        if subject_id is not None:
            RiskSubject.objects.filter(pk=subject_id).update(version=F("version") + 1)
            scoring_schedule(district_id, [subject_id])
    return opinion, True


def _opinion_subject(item: OpinionInput) -> Subject | None:
    """The enterprise or project an item is about (None: only an incident), checked."""
    if item.link and not item.link.startswith(("https://", "http://")):
        raise Invalid(
            _("The link is not valid."),
            [{"field": "link", "message": _("must be an http(s) address")}],
        )
    if not (item.credit_code or item.project or item.incident_id):
        raise Invalid(
            _("Link the item to an enterprise, a project or an incident."),
            [{"field": "subject", "message": _("give a credit code, a project or an incident")}],
        )
    if not (item.credit_code or item.project):
        return None
    try:
        return subject_parse(item.credit_code or None, item.project or None)
    except ReadingError as exc:
        raise Invalid(
            _("The subject is not valid."), [{"field": exc.field, "message": exc.message}]
        ) from exc


def district_ids() -> list[int]:
    return list(District.objects.values_list("pk", flat=True))
