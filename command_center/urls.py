from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter
from django.urls.converters import PathConverter

from command_center import csp, views, views_province, views_reports
from command_center.api import api
from command_center.api import not_found as api_not_found
from command_center.auth import (
    GuardedAdminAuthenticationForm,
    GuardedAuthenticationForm,
    throttled_login,
)
from command_center.ops import health, metrics

# The admin's login goes through the same guard as ours (its lock message, its 429).
admin.site.login_form = GuardedAdminAuthenticationForm


class AnyPath(PathConverter):
    """Any rest of a path, empty or with a newline in it (`<path:>` needs a character and
    stops at a newline, and Django's HTML 404 page answered): every other path under /api/
    is the API's JSON 404."""

    regex = "(?s:.*)"


register_converter(AnyPath, "anypath")

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("csp-report/", csp.csp_report, name="csp-report"),
    path("api/v1/", api.urls),
    path("api/<anypath:rest>", api_not_found, name="api-not-found"),
    path(
        "accounts/login/",
        throttled_login(
            auth_views.LoginView.as_view(authentication_form=GuardedAuthenticationForm)
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/login/", throttled_login(admin.site.login)),
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("dashboard/panels/", views.panels, name="dashboard-panels"),
    path("province/", views_province.dashboard, name="province"),
    path("province/panels/", views_province.panels, name="province-panels"),
    path(
        "province/incidents/<int:incident_id>/",
        views_province.incident,
        name="province-incident",
    ),
    path("reports/monthly/", views_reports.monthly, name="report-monthly"),
    path("reports/ranking/", views_reports.ranking, name="report-ranking"),
    path("reports/units/<slug:unit_code>/", views_reports.unit_record, name="report-unit"),
    path("", include("command_center.urls_situation")),
    path("", include("incidents.urls")),
    path("", include("alerts.urls")),
    path("", include("playbooks.urls")),
    path("", include("maps.urls")),
]
