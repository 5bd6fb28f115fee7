from django.urls import path

from maps import views

urlpatterns = [
    path("maps/", views.command_map, name="command-map"),
    # Each map's script, served as a file so that no script runs inline.
    path("maps/command.js", views.command_map_js, name="command-map-js"),
    path("maps/dashboard.js", views.dashboard_map_js, name="dashboard-map-js"),
    path("maps/incidents/<int:incident_id>.js", views.incident_map_js, name="incident-map-js"),
    path("maps/picker.js", views.picker_map_js, name="picker-map-js"),
]
