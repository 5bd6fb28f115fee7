from django.contrib import admin

from command_center.models import RankingMonth, RankingSettings, SituationReport, UnitStrike
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
