from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from command_center.login_guard import throttle_unlock
from command_center.models import (
    LoginThrottle,
    RankingMonth,
    RankingSettings,
    SituationReport,
    UnitStrike,
)
from incidents.admin import ReadOnlyAdmin


@admin.register(RankingSettings)
class RankingSettingsAdmin(admin.ModelAdmin[RankingSettings]):
    list_display = (
        "district",
        "advance_points",
        "overdue_points",
        "strike_window",
        "strike_months",
        "long_open_days",
    )


@admin.register(UnitStrike)
class UnitStrikeAdmin(ReadOnlyAdmin):
    """Strikes are recorded when a month's ranking closes; they are history, not edited."""

    list_display = ("month", "unit", "step", "consequence", "count", "score", "recorded_at")
    list_filter = ("district", "consequence")


@admin.register(RankingMonth)
class RankingMonthAdmin(ReadOnlyAdmin):
    list_display = ("month", "district", "closed_at")


@admin.register(SituationReport)
class SituationReportAdmin(ReadOnlyAdmin):
    list_display = ("day", "district", "period", "drafted_at", "edited_at")


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin[LoginThrottle]):
    """Accounts and addresses with recent failed logins, and their locks; written by the
    login guard only. An administrator may lift a lock early (logged, as by
    `manage.py unlock_account`)."""

    list_display = (
        "key",
        "kind",
        "locked_until",
        "failures",
        "last_failure_at",
        "lock_count",
    )
    list_filter = ("kind",)
    search_fields = ("key",)
    readonly_fields = (
        "kind",
        "key",
        "failures",
        "first_failure_at",
        "last_failure_at",
        "locked_until",
        "lock_count",
    )
    actions = ("unlock",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a lock is lifted by the action below, which logs it

    @admin.action(description=_("Lift the lock early"), permissions=["change"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[LoginThrottle]) -> None:
        lifted = sum(
            throttle_unlock(
                kind=LoginThrottle.Kind(row.kind), key=row.key, by=request.user.get_username()
            )
            for row in queryset
        )
        self.message_user(
            request,
            ngettext("%(count)d lock lifted.", "%(count)d locks lifted.", lifted)
            % {"count": lifted},
        )
