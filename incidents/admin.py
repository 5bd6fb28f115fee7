"""The admin edits reference data: units, windows, the routing table, the working calendar,
and the level table of mass incidents.

Cases, incidents, events and the fund ledger are read-only here: they change only through the
services, so that every change is an event.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from incidents import models


@admin.register(models.Province)
class ProvinceAdmin(admin.ModelAdmin[models.Province]):
    list_display = ("code", "name_zh", "name_en")


@admin.register(models.District)
class DistrictAdmin(admin.ModelAdmin[models.District]):
    list_display = ("code", "name_zh", "name_en", "case_prefix", "province")
    list_filter = ("province",)


@admin.register(models.ProvinceMembership)
class ProvinceMembershipAdmin(admin.ModelAdmin[models.ProvinceMembership]):
    """The provincial command's people (they also need the `province` group)."""

    list_display = ("user", "province")
    list_filter = ("province",)
    raw_id_fields = ("user",)


@admin.register(models.Unit)
class UnitAdmin(admin.ModelAdmin[models.Unit]):
    list_display = ("code", "name_zh", "name_en", "kind", "district", "active")
    list_filter = ("district", "kind", "active")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(models.Window)
class WindowAdmin(admin.ModelAdmin[models.Window]):
    list_display = ("code", "name_zh", "unit", "district")
    list_filter = ("district",)


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin[models.Membership]):
    list_display = ("user", "district", "unit", "window")
    list_filter = ("district",)
    raw_id_fields = ("user",)


@admin.register(models.RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin[models.RoutingRule]):
    list_display = ("district", "project_type", "responsible", "assist_territorial")
    list_filter = ("district",)


@admin.register(models.CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin[models.CalendarOverride]):
    list_display = ("day", "is_workday", "note", "district")
    list_filter = ("district", "is_workday")
    date_hierarchy = "day"


@admin.register(models.Enterprise)
class EnterpriseAdmin(admin.ModelAdmin[models.Enterprise]):
    list_display = ("credit_code", "name", "town", "registered_by_reading", "district")
    list_filter = ("registered_by_reading", "town")
    search_fields = ("credit_code", "name")


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin[models.Project]):
    list_display = ("name", "code", "type", "builder", "town", "contractor", "district")
    list_filter = ("type",)
    search_fields = ("name", "code")
    raw_id_fields = ("contractor",)


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows written by services only: the admin may look, never change."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("number", "state", "channel", "received_at", "responsible_unit", "town")
    list_filter = ("state", "channel", "district")
    search_fields = ("number", "employer__name", "employer__credit_code")
    list_select_related = ("responsible_unit", "town")


@admin.register(models.Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "at", "actor", "case", "before", "after")
    list_filter = ("kind",)
    list_select_related = ("actor", "case")


@admin.register(models.FundEntry)
class FundEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "amount", "unit", "case", "balance_after")
    list_select_related = ("unit", "case")


@admin.register(models.BlacklistEntry)
class BlacklistEntryAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "listed_at", "listed_by")


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[models.ApiToken]):
    list_display = ("user", "prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "prefix", "created_at", "last_used_at")


@admin.register(models.PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyAdmin):
    list_display = ("at", "user", "case", "subject", "rows", "via")
    list_filter = ("via", "subject")
    search_fields = ("user__username", "case__number")
    date_hierarchy = "at"
    list_select_related = ("user", "case")


@admin.register(models.IncidentSettings)
class IncidentSettingsAdmin(admin.ModelAdmin[models.IncidentSettings]):
    """The district's level table for mass incidents and the units that join every one."""

    list_display = ("district", "min_people_iii", "min_people_ii", "min_people_i")
    filter_horizontal = ("responders",)


@admin.register(models.Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("id", "title", "level", "status", "people_count", "town", "reported_at")
    list_filter = ("status", "level", "kind")
    list_select_related = ("town",)
