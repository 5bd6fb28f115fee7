"""Reference data, cases and the event log.

Every row belongs to a district, so that a province can run many districts in one
deployment. Rows are written by `incidents.services` only; `save()` has no side effects.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from incidents.domain.lifecycle import OPEN_STATES, Action, CaseState
from incidents.domain.routing import ProjectType

PROJECT_TYPE_CHOICES = [
    (ProjectType.REAL_ESTATE.value, _("real estate")),
    (ProjectType.COMMERCIAL_COMPLEX.value, _("commercial complex")),
    (ProjectType.TRANSPORT.value, _("transport")),
    (ProjectType.WATER.value, _("water")),
    (ProjectType.GOVERNMENT_INVESTMENT.value, _("government investment")),
    (ProjectType.OTHER_CONSTRUCTION.value, _("other construction")),
]
STATE_CHOICES = [
    (CaseState.REGISTERED.value, _("registered")),
    (CaseState.DISPATCHED.value, _("dispatched")),
    (CaseState.ACCEPTED.value, _("accepted")),
    (CaseState.RESOLVED.value, _("resolved")),
    (CaseState.CLOSED.value, _("closed")),
    (CaseState.INSPECTION.value, _("labour inspection")),
    (CaseState.SECTOR_REVIEW.value, _("sector review")),
    (CaseState.JOINT_MEETING.value, _("joint meeting")),
    (CaseState.FACTS_CONFIRMED.value, _("facts confirmed")),
    (CaseState.ADVANCED.value, _("wages advanced")),
    (CaseState.RECOVERING.value, _("recovering")),
    (CaseState.MERGED.value, _("merged")),
    (CaseState.REFERRED_POLICE.value, _("referred to police")),
    (CaseState.REJECTED.value, _("rejected")),
]


ACTION_LABELS: dict[Action, StrOrPromise] = {
    Action.DISPATCH: _("Dispatch"),
    Action.ACCEPT: _("Accept (issue commitment letter)"),
    Action.RESOLVE: _("Resolve"),
    Action.CLOSE: _("Close"),
    Action.ESCALATE_INSPECTION: _("Escalate to labour inspection"),
    Action.REFER_SECTOR: _("Refer to sector bureau"),
    Action.CONVENE_JOINT_MEETING: _("Convene joint meeting"),
    Action.CONFIRM_FACTS: _("Confirm facts and amount"),
    Action.ADVANCE_PAYMENT: _("Advance wages from petition account"),
    Action.RECORD_RECOVERY: _("Record recovery"),
    Action.REFER_POLICE: _("Refer to police"),
    Action.REJECT: _("Reject"),
    Action.MERGE: _("Merge into another case"),
}
STATE_LABELS: dict[str, StrOrPromise] = dict(STATE_CHOICES)


class BilingualName(models.Model):
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)

    class Meta:
        abstract = True

    @property
    def name(self) -> str:
        """The name in the active language."""
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh


class District(BilingualName):
    code = models.SlugField(unique=True, max_length=40)
    case_prefix = models.CharField(max_length=8, help_text="Prefix of case numbers, e.g. NX")

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")

    def __str__(self) -> str:
        return self.name_zh


class Unit(BilingualName):
    """A responsible unit: a town or zone (territorial), a bureau, or a state-owned company."""

    class Kind(models.TextChoices):
        TERRITORIAL = "territorial", _("territorial government")
        BUREAU = "bureau", _("bureau")
        SOE = "soe", _("state-owned company")

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="units")
    code = models.SlugField(max_length=40)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="unit_district_code_uniq")
        ]
        ordering = ["district", "kind", "code"]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code})"


class Window(BilingualName):
    """An intake window (专窗) at a dispute-resolution centre."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="windows")
    code = models.SlugField(max_length=40)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name = _("intake window")
        verbose_name_plural = _("intake windows")
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="window_district_code_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code})"


class Membership(models.Model):
    """Where a person works: their district, and the unit or window they act for.

    Roles are Django groups named after `incidents.domain.lifecycle.Role`.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    district = models.ForeignKey(District, on_delete=models.PROTECT)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True)
    window = models.ForeignKey(Window, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.district.code}"


class RoutingRule(models.Model):
    """One row of the routing table (see `incidents.domain.routing`)."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="routing_rules")
    project_type = models.CharField(
        max_length=30,
        choices=PROJECT_TYPE_CHOICES,
        blank=True,
        help_text=_("Empty: a complaint about no construction project."),
    )
    responsible = models.CharField(
        max_length=40, help_text=_("A unit code, 'territorial' or 'builder'.")
    )
    assist_territorial = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        constraints = [
            models.UniqueConstraint(
                fields=["district", "project_type"], name="routing_district_type_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.project_type or '-'} → {self.responsible}"


class CalendarOverride(models.Model):
    """An administrator's correction to the public working calendar."""

    district = models.ForeignKey(District, on_delete=models.CASCADE)
    day = models.DateField()
    is_workday = models.BooleanField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")
        constraints = [
            models.UniqueConstraint(fields=["district", "day"], name="calendar_district_day_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.day} {'work' if self.is_workday else 'off'}"


class Enterprise(models.Model):
    district = models.ForeignKey(District, on_delete=models.PROTECT)
    credit_code = models.CharField(max_length=18)
    name = models.CharField(max_length=200)

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        constraints = [
            models.UniqueConstraint(
                fields=["district", "credit_code"], name="enterprise_district_code_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.credit_code})"


class Project(models.Model):
    """A construction project, known by its name within a district."""

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=30, choices=PROJECT_TYPE_CHOICES)
    builder = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True)
    town = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="project_district_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class CaseCounter(models.Model):
    """The last case number given out per district and year."""

    district = models.ForeignKey(District, on_delete=models.CASCADE)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["district", "year"], name="counter_district_year_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.district_id}/{self.year}: {self.last}"


class Case(models.Model):
    """One wage-arrears matter, however many reports it has."""

    class Channel(models.TextChoices):
        WINDOW = "window", _("intake window")
        LABOUR_COMPLAINT = "labour_complaint", _("labour complaint")
        POLICE_110 = "police_110", _("110 police call")
        PETITION = "petition", _("petition visit")
        INSPECTION_TIP = "inspection_tip", _("labour inspection tip")
        HOTLINE_12345 = "hotline_12345", _("12345 hotline")
        ONLINE = "online", _("online")

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    number = models.CharField(max_length=32, unique=True)
    state = models.CharField(
        max_length=20,
        choices=STATE_CHOICES,
        default=CaseState.REGISTERED,
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    received_at = models.DateTimeField()
    employer = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="cases")
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    town = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    workers_count = models.PositiveIntegerField()
    amount_owed = models.DecimalField(max_digits=14, decimal_places=2)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    confirmed_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    description = models.TextField(blank=True)
    responsible_unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    assisting_units = models.ManyToManyField(Unit, blank=True, related_name="assisted_cases")
    routing_note = models.CharField(max_length=200, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    commitment_letter_number = models.CharField(max_length=40, blank=True)
    facts_confirmed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    revision = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["district", "state", "-received_at"], name="case_state_idx"),
            models.Index(fields=["responsible_unit", "state"], name="case_unit_state_idx"),
            models.Index(fields=["district", "-received_at"], name="case_received_idx"),
            models.Index(
                fields=["employer", "state"],
                name="case_open_employer_idx",
                condition=Q(state__in=sorted(s.value for s in OPEN_STATES)),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return CaseState(self.state) in OPEN_STATES


class Report(models.Model):
    """One complaint as it arrived; a case keeps every one of them."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reports")
    channel = models.CharField(max_length=20, choices=Case.Channel.choices)
    window = models.ForeignKey(Window, on_delete=models.PROTECT, null=True, blank=True)
    received_at = models.DateTimeField()
    complainant_name = models.CharField(max_length=100)
    complainant_phone = models.CharField(max_length=20)
    complainant_id_number = models.CharField(max_length=18, blank=True)
    workers_count = models.PositiveIntegerField()
    amount_owed = models.DecimalField(max_digits=14, decimal_places=2)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.case.number} / {self.channel}"


class DispatchSlip(models.Model):
    """A transfer slip (转办单): the case handed to a unit. Each re-dispatch issues a new one."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="slips")
    number = models.CharField(max_length=40, unique=True)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    assisting = models.CharField(
        max_length=200, blank=True, help_text="Unit codes, comma-separated"
    )
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        ordering = ["issued_at", "id"]

    def __str__(self) -> str:
        return self.number


class Clock(models.Model):
    """A deadline that will fall due. The sweep reads only running clocks that are due."""

    class Kind(models.TextChoices):
        DISPATCH = "dispatch", _("dispatch")
        COMMITMENT = "commitment", _("7-day commitment")
        ADVANCE = "advance", _("advance payment")

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        MET = "met", _("met")
        OVERDUE = "overdue", _("overdue")
        CANCELLED = "cancelled", _("cancelled")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="clocks")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"],
                name="clock_running_due_idx",
                condition=Q(status="running"),
            ),
            models.Index(fields=["case", "kind"], name="clock_case_kind_idx"),
        ]
        constraints = [
            # At most one live (running or overdue) clock of each kind per case.
            models.UniqueConstraint(
                fields=["case", "kind"],
                condition=Q(status__in=["running", "overdue"]),
                name="clock_one_live_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.kind}:{self.status}"


class Event(models.Model):
    """The append-only log: every change, its actor, time, reason and before/after."""

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(max_length=50)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    before = models.CharField(max_length=20, blank=True)
    after = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["case", "id"], name="event_case_idx"),
            models.Index(fields=["district", "id"], name="event_district_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class FundAccount(models.Model):
    """The district's petition special account (信访专用账户). The balance is moved only by
    a conditional UPDATE, so two advances can never overdraw it."""

    district = models.OneToOneField(District, on_delete=models.PROTECT)
    balance = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        verbose_name = _("petition special account")
        verbose_name_plural = _("petition special accounts")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="fund_balance_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.district.code}: {self.balance}"


class FundEntry(models.Model):
    """A ledger line of the petition special account."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("deposit")
        ADVANCE = "advance", _("advance")
        RECOVERY = "recovery", _("recovery")

    account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="fund_entries"
    )
    balance_after = models.DecimalField(max_digits=16, decimal_places=2)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="fund_amount_pos")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class UnitPenalty(models.Model):
    """Points a unit loses in its assessment (each advance from the fund costs 2)."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="penalties")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True)
    points = models.DecimalField(max_digits=6, decimal_places=1)
    reason = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.unit.code} -{self.points}"


class BlacklistEntry(models.Model):
    """An employer or a responsible person on the wage-arrears blacklist (欠薪黑名单)."""

    class Status(models.TextChoices):
        LISTED = "listed", _("listed")
        APPEALED = "appealed", _("under appeal")
        REMOVED = "removed", _("removed")

    district = models.ForeignKey(District, on_delete=models.PROTECT)
    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.PROTECT, null=True, blank=True, related_name="blacklist"
    )
    person_name = models.CharField(max_length=100, blank=True)
    person_id_number = models.CharField(max_length=18, blank=True)
    reason = models.TextField()
    cases = models.ManyToManyField(Case, blank=True, related_name="blacklist_entries")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.LISTED)
    listed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    listed_at = models.DateTimeField()
    appeal_reason = models.TextField(blank=True)
    appealed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removal_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = _("blacklist entry")
        verbose_name_plural = _("blacklist entries")
        constraints = [
            models.CheckConstraint(
                condition=Q(enterprise__isnull=False) | ~Q(person_name=""),
                name="blacklist_has_subject",
            )
        ]

    def __str__(self) -> str:
        return self.person_name or str(self.enterprise)


class ApiToken(models.Model):
    """A bearer token for an integration. Only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} {self.prefix}…"


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an `Idempotency-Key`, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
