from django.contrib import admin

from alerts.models import (
    Alert,
    AlertSettings,
    DutyShift,
    EarlyWarning,
    Officer,
    OpinionItem,
    Reading,
    RiskRule,
    RiskSettings,
    SensitivePeriod,
    SmsMessage,
    ZeroReport,
)
from incidents.admin import ReadOnlyAdmin


@admin.register(AlertSettings)
class AlertSettingsAdmin(admin.ModelAdmin[AlertSettings]):
    filter_horizontal = ("paged_units", "zero_report_units")


@admin.register(SensitivePeriod)
class SensitivePeriodAdmin(admin.ModelAdmin[SensitivePeriod]):
    list_display = ("name", "starts_on", "ends_on", "district")
    list_filter = ("district",)


@admin.register(Officer)
class OfficerAdmin(admin.ModelAdmin[Officer]):
    list_display = ("name", "unit", "phone", "is_liaison", "active", "user")
    list_filter = ("unit", "is_liaison", "active")
    search_fields = ("name", "phone")
    raw_id_fields = ("user",)


@admin.register(DutyShift)
class DutyShiftAdmin(admin.ModelAdmin[DutyShift]):
    list_display = ("day", "unit", "rung", "officer")
    list_filter = ("unit", "rung")
    date_hierarchy = "day"
    raw_id_fields = ("officer",)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("pk", "raised_at", "reason", "unit", "incident", "case", "stage", "state")
    list_filter = ("state", "reason", "unit")


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyAdmin):
    list_display = ("pk", "created_at", "officer", "template", "status", "attempts", "error_code")
    list_filter = ("status", "template", "provider")
    search_fields = ("provider_id", "key")


@admin.register(ZeroReport)
class ZeroReportAdmin(ReadOnlyAdmin):
    list_display = ("day", "unit", "nothing_to_report", "filed_by", "filed_at")
    list_filter = ("unit",)
    date_hierarchy = "day"


@admin.register(RiskRule)
class RiskRuleAdmin(admin.ModelAdmin[RiskRule]):
    """The risk rules, as data: weight, parameters, on or off. `clean` refuses a rule that
    cannot be evaluated, naming what is wrong."""

    list_display = ("code", "name_zh", "kind", "indicator", "weight", "active", "district")
    list_filter = ("active", "kind", "district")
    list_editable = ("weight", "active")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(RiskSettings)
class RiskSettingsAdmin(admin.ModelAdmin[RiskSettings]):
    list_display = ("district", "yellow_at", "orange_at", "red_at", "red_workdays")


@admin.register(Reading)
class ReadingAdmin(ReadOnlyAdmin):
    list_display = (
        "source",
        "external_id",
        "subject",
        "indicator",
        "period_start",
        "number",
        "text",
    )
    list_filter = ("indicator", "source")
    search_fields = ("external_id", "subject__enterprise__credit_code", "subject__project__code")


@admin.register(EarlyWarning)
class EarlyWarningAdmin(ReadOnlyAdmin):
    list_display = ("code", "subject", "level", "score", "state", "unit", "raised_at", "due_at")
    list_filter = ("level", "state", "unit")
    search_fields = ("code",)


@admin.register(OpinionItem)
class OpinionItemAdmin(admin.ModelAdmin[OpinionItem]):
    list_display = ("published_at", "source", "reach", "subject", "incident")
    list_filter = ("source",)
    search_fields = ("text",)
    raw_id_fields = ("subject", "incident", "recorded_by")
