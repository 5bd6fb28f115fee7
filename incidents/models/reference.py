"""Reference data: districts, units, windows, people, the routing table and calendar."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from incidents.models.choices import PROJECT_TYPE_CHOICES


class BilingualName(models.Model):
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)

    class Meta:
        abstract = True

    @property
    def name(self) -> str:
        """The name in the active language."""
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh


class Province(BilingualName):
    """A province (or a city) that runs several districts in one deployment.

    Its command staff (`ProvinceMembership`) see aggregates across its districts and the
    gravest incidents live; they act on nothing in a district.
    """

    code = models.SlugField(unique=True, max_length=40)

    class Meta:
        verbose_name = _("province")
        verbose_name_plural = _("provinces")

    def __str__(self) -> str:
        return self.name_zh


class District(BilingualName):
    code = models.SlugField(unique=True, max_length=40)
    case_prefix = models.CharField(max_length=8, help_text="Prefix of case numbers, e.g. NX")
    province = models.ForeignKey(
        Province,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="districts",
        verbose_name=_("province"),
    )

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
    outline = models.JSONField(
        _("outline"),
        null=True,
        blank=True,
        help_text=_(
            "A town's boundary as a GeoJSON Polygon or MultiPolygon in WGS-84 "
            "([longitude, latitude] positions); see manage.py import_outlines."
        ),
    )
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

    def clean(self) -> None:
        from maps.domain.geometry import GeometryError, check_outline

        if self.outline is not None:
            try:
                self.outline = check_outline(self.outline)
            except GeometryError as exc:
                raise ValidationError({"outline": str(exc)}) from exc


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


class ProvinceMembership(models.Model):
    """A member of a province's command staff (with the `province` group): reads the
    province's figures and its grave incidents, belongs to no district."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="province_membership"
    )
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="members")

    class Meta:
        verbose_name = _("province membership")
        verbose_name_plural = _("province memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.province.code}"


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
