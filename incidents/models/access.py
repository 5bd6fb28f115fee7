"""Access: integration bearer tokens, idempotency records and the personal-data access log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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


class PersonalDataAccess(models.Model):
    """One look at phone or ID numbers unmasked: who, what (a case, or a list such as the
    blacklist, and how many rows held numbers), when and through what."""

    class Via(models.TextChoices):
        API = "api", "API"
        PAGE = "page", _("page")
        EXPORT = "export", _("export")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        "incidents.Case", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # What was shown when it is not one case ("blacklist"); blank for a case.
    subject = models.CharField(_("what"), max_length=100, blank=True)
    rows = models.PositiveIntegerField(_("rows with numbers"), default=1)
    via = models.CharField(max_length=10, choices=Via.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        indexes = [models.Index(fields=["case", "at"], name="pda_case_at_idx")]

    def __str__(self) -> str:
        what = self.subject or f"case {self.case_id}"
        return f"{self.user_id} saw {what} ({self.rows}) at {self.at:%Y-%m-%d %H:%M}"


class WsTicket(models.Model):
    """A one-time ticket for a WebSocket client that has no session (an integration).

    Only its SHA-256 is stored; it is spent on first use and lasts `WS_TICKET_SECONDS`.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ticket for {self.user} until {self.expires_at:%Y-%m-%d %H:%M}"
