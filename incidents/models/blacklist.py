"""The wage-arrears blacklist."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from incidents.models.cases import Case, Enterprise
from incidents.models.reference import District


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
