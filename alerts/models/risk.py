"""Early warning: indicator readings, risk rules as data, scores, warnings and public opinion."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from alerts.domain.indicators import Indicator
from alerts.domain.risk import (
    PARAM_DEFAULTS,
    Level,
    Outcome,
    RuleError,
    RuleKind,
    RuleSpec,
    SubjectKind,
    Thresholds,
    WarningState,
    rule_check,
)
from incidents.models import Case, District, Enterprise, Incident, Project, Unit

INDICATOR_LABELS = {
    Indicator.WATER_M3: _("water use (m³)"),
    Indicator.ELECTRICITY_KWH: _("electricity use (kWh)"),
    Indicator.GAS_M3: _("gas use (m³)"),
    Indicator.PROPERTY_FEE_ARREARS_MONTHS: _("property fees unpaid (months)"),
    Indicator.TAX_CREDIT_RATING: _("tax credit rating"),
    Indicator.WAGE_ACCOUNT_INFLOW: _("wage account inflow (yuan)"),
    Indicator.WAGE_ACCOUNT_PAYROLL: _("wages paid from the wage account (yuan)"),
    Indicator.REGISTERED_WORKERS: _("registered workers (real-name)"),
    Indicator.FUND_DISBURSED: _("project funds disbursed (yuan)"),
    Indicator.SYSTEM_REAL_NAME: _("real-name registration in place"),
    Indicator.SYSTEM_WAGE_ACCOUNT: _("wage special account in place"),
    Indicator.SYSTEM_MONTHLY_PAY: _("monthly payment in full"),
    Indicator.SYSTEM_CONTRACTOR_PAYS: _("general contractor pays on behalf"),
    Indicator.SYSTEM_GUARANTEE_DEPOSIT: _("wage guarantee deposit paid"),
    Indicator.SYSTEM_NOTICE_BOARD: _("rights notice board posted"),
}
INDICATOR_CHOICES = [(i.value, label) for i, label in INDICATOR_LABELS.items()]
LEVEL_LABELS = {Level.YELLOW: _("yellow"), Level.ORANGE: _("orange"), Level.RED: _("red")}
RULE_KIND_LABELS = {
    RuleKind.DROP: _("monthly figure dropped against the months before"),
    RuleKind.NO_PAYMENT: _("no payment for a number of days while workers are registered"),
    RuleKind.RATING_IN: _("latest rating is one of"),
    RuleKind.AT_LEAST: _("latest figure is at least"),
    RuleKind.SYSTEMS_MISSING: _("a construction system is missing"),
    RuleKind.OPEN_CASES: _("open wage-arrears cases"),
    RuleKind.BLACKLISTED: _("on the wage-arrears blacklist"),
    RuleKind.PUBLIC_OPINION: _("public opinion reaching many people"),
}
OUTCOME_LABELS = {
    Outcome.PREVENTED: _("intervened: wages secured"),
    Outcome.CASE_OPENED: _("arrears found: case registered"),
    Outcome.NO_RISK: _("checked: no risk"),
    Outcome.DATA_ERROR: _("the readings were wrong"),
}
WARNING_STATE_LABELS = {
    WarningState.OPEN: _("waiting for intervention"),
    WarningState.HANDLING: _("being handled"),
    WarningState.CLOSED: _("closed"),
}


class RiskSubject(models.Model):
    """An enterprise or a construction project as the warning system watches it.

    `version` rises with every reading or fact that may change its score; scoring records
    the version it read (`scored_version`), so a reading that arrives while a subject is
    being scored leaves it due for scoring again rather than lost.
    """

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    enterprise = models.OneToOneField(
        Enterprise, on_delete=models.PROTECT, null=True, blank=True, related_name="risk"
    )
    project = models.OneToOneField(
        Project, on_delete=models.PROTECT, null=True, blank=True, related_name="risk"
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    scored_version = models.PositiveIntegerField(default=0)
    scored_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveIntegerField(default=0)
    level = models.CharField(max_length=10, blank=True)
    hits = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("watched subject")
        verbose_name_plural = _("watched subjects")
        constraints = [
            models.CheckConstraint(
                condition=Q(enterprise__isnull=True) ^ Q(project__isnull=True),
                name="risk_subject_one_of",
            )
        ]
        indexes = [
            models.Index(
                fields=["district"],
                name="risk_subject_due_idx",
                condition=Q(version__gt=F("scored_version")),
            ),
            models.Index(fields=["district", "scored_at"], name="risk_subject_scored_idx"),
            models.Index(fields=["district", "-score"], name="risk_subject_score_idx"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def kind(self) -> SubjectKind:
        return SubjectKind.PROJECT if self.project_id else SubjectKind.ENTERPRISE

    @property
    def label(self) -> str:
        if self.project_id and self.project:
            return self.project.label
        return self.enterprise.label if self.enterprise else "?"

    @property
    def reference(self) -> dict[str, str]:
        """How the API names it: {"credit_code": …} or {"project": …}."""
        if self.project_id and self.project:
            return {"project": self.project.code or self.project.name}
        return {"credit_code": self.enterprise.credit_code if self.enterprise else ""}


class Reading(models.Model):
    """One indicator reading from a data source, kept as it arrived (idempotent by source+id).

    `number` holds quantities, counts and yes/no (1/0); `text` a tax credit rating.
    """

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=40)
    external_id = models.CharField(max_length=80)
    subject = models.ForeignKey(RiskSubject, on_delete=models.PROTECT, related_name="readings")
    indicator = models.CharField(max_length=40, choices=INDICATOR_CHOICES)
    period_start = models.DateField()
    period_end = models.DateField()
    number = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    text = models.CharField(max_length=4, blank=True)
    reported_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("indicator reading")
        verbose_name_plural = _("indicator readings")
        constraints = [
            models.UniqueConstraint(
                fields=["district", "source", "external_id"], name="reading_source_id_uniq"
            ),
            models.CheckConstraint(
                condition=Q(period_start__lte=F("period_end")), name="reading_period_order"
            ),
        ]
        indexes = [
            models.Index(
                fields=["subject", "indicator", "period_start"], name="reading_subject_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.external_id}"


class RiskRule(models.Model):
    """One rule of the risk score, as data (see `alerts.domain.risk`)."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="+")
    code = models.SlugField(max_length=40)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    kind = models.CharField(
        max_length=20, choices=[(k.value, label) for k, label in RULE_KIND_LABELS.items()]
    )
    indicator = models.CharField(max_length=40, choices=INDICATOR_CHOICES, blank=True)
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Parameters of the rule's kind; those left out take their defaults."),
    )
    applies_to = models.CharField(
        max_length=12,
        blank=True,
        choices=[
            (SubjectKind.ENTERPRISE.value, _("enterprises")),
            (SubjectKind.PROJECT.value, _("projects")),
        ],
        help_text=_("Empty: enterprises and projects alike."),
    )
    weight = models.PositiveSmallIntegerField()
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("risk rule")
        verbose_name_plural = _("risk rules")
        ordering = ["district", "-weight", "code"]
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="risk_rule_code_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.weight})"

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh

    def spec(self) -> RuleSpec:
        """The rule as the domain evaluates it (`RuleError` if it cannot be)."""
        try:
            kind = RuleKind(self.kind)
            indicator = Indicator(self.indicator) if self.indicator else None
            applies = SubjectKind(self.applies_to) if self.applies_to else None
        except ValueError as exc:
            raise RuleError(str(exc)) from exc
        if not isinstance(self.params, dict):
            raise RuleError("params must be an object")
        return rule_check(
            RuleSpec(self.code, kind, self.weight, indicator, dict(self.params), applies)
        )

    def clean(self) -> None:
        try:
            self.spec()
        except RuleError as exc:
            raise ValidationError({"params": str(exc)}) from exc

    @property
    def defaults(self) -> dict[str, object]:
        return dict(PARAM_DEFAULTS.get(RuleKind(self.kind), {}))


class RiskSettings(models.Model):
    """A district's score thresholds and the working days a unit has per warning level."""

    district = models.OneToOneField(District, on_delete=models.CASCADE, related_name="+")
    yellow_at = models.PositiveSmallIntegerField(_("yellow from score"), default=30)
    orange_at = models.PositiveSmallIntegerField(_("orange from score"), default=60)
    red_at = models.PositiveSmallIntegerField(_("red from score"), default=90)
    yellow_workdays = models.PositiveSmallIntegerField(
        _("working days to intervene (yellow)"), default=5
    )
    orange_workdays = models.PositiveSmallIntegerField(
        _("working days to intervene (orange)"), default=3
    )
    red_workdays = models.PositiveSmallIntegerField(_("working days to intervene (red)"), default=1)

    class Meta:
        verbose_name = _("early-warning settings")
        verbose_name_plural = _("early-warning settings")

    def __str__(self) -> str:
        return f"risk settings of district {self.district_id}"

    def clean(self) -> None:
        try:
            _checked = self.thresholds
        except RuleError as exc:
            raise ValidationError(str(exc)) from exc

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.yellow_at, self.orange_at, self.red_at)


class EarlyWarning(models.Model):
    """A warning about one subject: opened at a level, assigned, worked, closed with an outcome.

    At most one warning per subject is not closed. Its clock (`due_at`) is met when the
    unit accepts it (intervenes); a warning still open at `due_at` is overdue.
    """

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=32, unique=True)
    subject = models.ForeignKey(RiskSubject, on_delete=models.PROTECT, related_name="warnings")
    level = models.CharField(
        max_length=10, choices=[(lv.value, label) for lv, label in LEVEL_LABELS.items()]
    )
    score = models.PositiveIntegerField()
    reasons = models.JSONField(default=list, help_text="The rules met and the readings behind.")
    state = models.CharField(
        max_length=10,
        choices=[(s.value, label) for s, label in WARNING_STATE_LABELS.items()],
        default=WarningState.OPEN,
    )
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="warnings"
    )
    routing_note = models.CharField(max_length=200, blank=True)
    raised_at = models.DateTimeField()
    due_at = models.DateTimeField()
    overdue_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(
        max_length=20,
        blank=True,
        choices=[(o.value, label) for o, label in OUTCOME_LABELS.items()],
    )
    outcome_note = models.TextField(blank=True)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="warnings"
    )
    revision = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("early warning")
        verbose_name_plural = _("early warnings")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject"], condition=~Q(state="closed"), name="warning_one_open"
            )
        ]
        indexes = [
            models.Index(fields=["district", "state", "-raised_at"], name="warning_state_idx"),
            models.Index(fields=["unit", "state"], name="warning_unit_idx"),
            models.Index(
                fields=["due_at"],
                name="warning_due_idx",
                condition=Q(state="open", overdue_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def level_label(self) -> str:
        return str(LEVEL_LABELS[Level(self.level)])

    @property
    def state_label(self) -> str:
        return str(WARNING_STATE_LABELS[WarningState(self.state)])


class OpinionItem(models.Model):
    """An item of online public opinion (舆情) reported by the cyberspace office or a feed."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=40)
    external_id = models.CharField(max_length=80, blank=True)
    text = models.TextField(max_length=2000)
    link = models.URLField(max_length=500, blank=True)
    reach = models.PositiveIntegerField(default=0, help_text=_("Views, shares or readers."))
    published_at = models.DateTimeField()
    subject = models.ForeignKey(
        RiskSubject, on_delete=models.PROTECT, null=True, blank=True, related_name="opinions"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="opinions"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("public opinion item")
        verbose_name_plural = _("public opinion items")
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "source", "external_id"],
                condition=~Q(external_id=""),
                name="opinion_source_id_uniq",
            ),
            models.CheckConstraint(
                condition=Q(subject__isnull=False) | Q(incident__isnull=False),
                name="opinion_linked",
            ),
        ]
        indexes = [models.Index(fields=["subject", "published_at"], name="opinion_subject_idx")]

    def __str__(self) -> str:
        return f"{self.source}: {self.text[:30]}"
