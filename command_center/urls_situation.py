"""Addresses of the daily situation reports (included from `command_center.urls`)."""

from django.urls import path

from command_center import views_situation

urlpatterns = [
    path("reports/situation/", views_situation.situation_list, name="situation-list"),
    path(
        "reports/situation/<int:report_id>/",
        views_situation.situation_detail,
        name="situation-detail",
    ),
]
