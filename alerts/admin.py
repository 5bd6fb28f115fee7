from django.contrib import admin

from alerts.models import (
    Alert,
    AlertSettings,
    DutyShift,
    Officer,
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
