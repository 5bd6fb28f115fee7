from django.urls import path

from playbooks import views

urlpatterns = [
    path(
        "incidents/<int:incident_id>/checklist/<int:step_id>/",
        views.step_move,
        name="checklist-step",
    ),
    path(
        "incidents/<int:incident_id>/checklist/<int:step_id>/attachment",
        views.step_attachment,
        name="checklist-attachment",
    ),
    path("incidents/<int:incident_id>/checklists/", views.checklist_add, name="checklist-add"),
    path("playbooks/", views.period_checklists, name="period-checklists"),
    path("playbooks/steps/<int:step_id>/", views.period_step_move, name="period-checklist-step"),
]
