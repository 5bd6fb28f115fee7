from django.urls import path

from incidents import views, views_activity, views_after_action, views_incidents

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
    path(
        "incidents/<int:incident_id>/activity/",
        views_activity.incident_activity,
        name="incident-activity",
    ),
    path("units/<slug:unit_code>/activity/", views_activity.unit_activity, name="unit-activity"),
    path(
        "incidents/<int:incident_id>/after-action/",
        views_after_action.after_action_page,
        name="after-action",
    ),
    path(
        "incidents/<int:incident_id>/after-action/sign/",
        views_after_action.after_action_sign_page,
        name="after-action-sign",
    ),
    path(
        "incidents/<int:incident_id>/after-action/refresh/",
        views_after_action.after_action_refresh_page,
        name="after-action-refresh",
    ),
    path(
        "incidents/<int:incident_id>/after-action.pdf",
        views_after_action.after_action_pdf,
        name="after-action-pdf",
    ),
]
