from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from command_center.api import api, error

urlpatterns = [
    path("api/v1/", api.urls),
    # Unknown API paths answer in JSON too, never with an HTML page.
    path("api/<path:rest>", lambda request, rest: error("Not found.", 404)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("incidents.urls")),
]
