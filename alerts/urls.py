from django.urls import path

from alerts import pages, pages_risk, views

urlpatterns = [
    path("alerts/twilio/status", views.twilio_status, name="twilio-status"),
    path("alerts/twilio/inbound", views.twilio_inbound, name="twilio-inbound"),
    path("i/<int:incident_id>", views.short_incident, name="short-incident"),
    path("c/<str:case_number>", views.short_case, name="short-case"),
    path("alerts/", pages.alert_list, name="alert-list"),
    path("alerts/roster/", pages.roster, name="roster"),
    path("alerts/daily-reports/", pages.daily_reports, name="daily-reports"),
    path("alerts/<int:alert_id>/acknowledge/", pages.alert_ack, name="alert-ack"),
    path("alerts/warnings/", pages_risk.warning_list, name="warning-list"),
    path("alerts/warnings/<int:warning_id>/", pages_risk.warning_detail, name="warning-detail"),
    path("alerts/warnings/<int:warning_id>/move/", pages_risk.warning_move, name="warning-move"),
    path("alerts/opinions/", pages_risk.opinions, name="opinions"),
]
