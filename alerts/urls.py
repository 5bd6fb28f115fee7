from django.urls import path

from alerts import pages, views

urlpatterns = [
    path("alerts/twilio/status", views.twilio_status, name="twilio-status"),
    path("alerts/twilio/inbound", views.twilio_inbound, name="twilio-inbound"),
    path("i/<int:incident_id>", views.short_incident, name="short-incident"),
    path("c/<str:case_number>", views.short_case, name="short-case"),
    path("alerts/", pages.alert_list, name="alert-list"),
    path("alerts/roster/", pages.roster, name="roster"),
    path("alerts/daily-reports/", pages.daily_reports, name="daily-reports"),
    path("alerts/<int:alert_id>/acknowledge/", pages.alert_ack, name="alert-ack"),
]
