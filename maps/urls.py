from django.urls import path

from maps import views

urlpatterns = [
    path("maps/", views.command_map, name="command-map"),
]
