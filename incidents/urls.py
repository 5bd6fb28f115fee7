from django.urls import path

from incidents import views, views_incidents

urlpatterns = [
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/triage/", views.case_triage, name="case-triage"),
    path("cases/bulk/", views.case_bulk, name="case-bulk"),
    path("cases/<str:case_number>/", views.case_detail, name="case-detail"),
    path("cases/<str:case_number>/transition/", views.case_transition, name="case-transition"),
    path(
        "cases/<str:case_number>/commitment-letter/",
        views.commitment_letter,
        name="commitment-letter",
    ),
    path("slips/<str:slip_number>/", views.slip_print, name="slip-print"),
    path("incidents/", views_incidents.incident_list, name="incident-list"),
    path("incidents/new/", views_incidents.incident_new, name="incident-new"),
    path("incidents/<int:incident_id>/", views_incidents.incident_room, name="incident-room"),
    path("incidents/<int:incident_id>/act/", views_incidents.incident_act, name="incident-act"),
]
