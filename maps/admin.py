"""Landmarks are reference data, edited here like units and windows."""

from __future__ import annotations

from django.contrib import admin

from maps.models import Place


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin[Place]):
    list_display = ("code", "name_zh", "kind", "town", "lat", "lng", "district")
    list_filter = ("district", "kind")
    search_fields = ("code", "name_zh", "name_en")
