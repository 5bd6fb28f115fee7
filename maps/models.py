"""Places that matter to command on a map, besides windows, cases and incidents."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.models import District, Unit
from incidents.models.reference import BilingualName


class Place(BilingualName):
    """A police station, a government gate or another landmark an incident may be near."""

    class Kind(models.TextChoices):
        POLICE = "police", _("police station")
        GOVERNMENT = "government", _("government gate")
        OTHER = "other", _("other landmark")

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    code = models.SlugField(max_length=40)
    town = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lat = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    lng = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    phone = models.CharField(
        _("duty phone"), max_length=30, blank=True, help_text=_("Shown in the map's popup.")
    )

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="place_district_code_uniq")
        ]
        indexes = [models.Index(fields=["district", "kind"], name="place_kind_idx")]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code})"
