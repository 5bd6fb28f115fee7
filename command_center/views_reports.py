"""Pages of the monthly statistics, the unit rankings and a unit's accountability record.

`?format=csv` and `?format=xlsx` download the same tables; the JSON is in the API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from command_center import reports
from command_center.charts import bar_chart
from command_center.domain import reports as rules
from command_center.exports import csv_response, xlsx_response
from command_center.models import RankingMonth, UnitStrike
from command_center.report_params import (
    ParamError,
    monthly_window,
    query_params,
    ranking_month,
)
from incidents.models import Case, Unit
from incidents.web import page_actor


def _bad(request: HttpRequest, exc: ParamError) -> HttpResponse:
    body = render_to_string(
        "command_center/report_error.html", {"field": exc.field, "message": exc.message}, request
    )
    return HttpResponseBadRequest(body)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _money(value: str | None) -> Decimal | None:
    """Money comes as a decimal string in the JSON; a spreadsheet wants a number."""
    return None if value is None else Decimal(value)


def monthly_tables(data: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The monthly figures as (title, header, rows) tables, for CSV and XLSX."""
    channels = dict(Case.Channel.choices)
    yoy, prior = data["yoy"], data["prior"] or {}
    figures = [
        [
            _("Cases received"),
            data["cases_received"],
            prior.get("cases_received"),
            yoy["cases_received"],
        ],
        [
            _("Cases on construction projects"),
            data["construction_cases"],
            prior.get("construction_cases"),
            yoy["construction_cases"],
        ],
        [_("Workers"), data["workers"], prior.get("workers"), yoy["workers"]],
        [
            _("Amount owed (yuan)"),
            _money(data["amount_owed"]),
            _money(prior.get("amount_owed")),
            yoy["amount_owed"],
        ],
        [_("Closure rate"), data["closure_rate"], None, None],
        [_("Cases handled"), data["closure"]["handled"], None, None],
        [_("Cases concluded"), data["closure"]["concluded"], None, None],
        [_("Open at the end"), data["open_at_end"], None, None],
        [_("Long-open cases"), data["long_open"], None, None],
        [_("Fund advanced (yuan)"), _money(data["fund"]["advanced"]), None, None],
        [_("Fund recovered (yuan)"), _money(data["fund"]["recovered"]), None, None],
    ]
    by_channel = [[str(channels.get(k, k)), k, v] for k, v in data["by_channel"].items()]
    by_unit = [
        [
            u["unit"] or "",
            u["name"] or _("not dispatched"),
            u["handled"],
            u["concluded"],
            u["closure_rate"],
        ]
        for u in data["closure"]["by_unit"]
    ]
    tables = [
        (
            _("Figures"),
            [_("Figure"), data["period"], _("Same period last year"), _("Change (%)")],
            figures,
        ),
        (_("By channel"), [_("Channel"), _("Code"), _("Cases")], by_channel),
        (
            _("Closure by unit"),
            [_("Unit code"), _("Unit"), _("Handled"), _("Concluded"), _("Closure rate")],
            by_unit,
        ),
    ]
    if data["series"]:
        tables.append(
            (
                _("By month"),
                [
                    _("Month"),
                    _("Cases received"),
                    _("Cases on construction projects"),
                    _("Workers"),
                    _("Amount owed (yuan)"),
                ],
                [
                    [
                        s["month"],
                        s["cases_received"],
                        s["construction_cases"],
                        s["workers"],
                        _money(s["amount_owed"]),
                    ]
                    for s in data["series"]
                ],
            )
        )
    return tables


def ranking_table(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = [
        _("Rank"),
        _("Unit code"),
        _("Unit"),
        _("Cases"),
        _("Self-resolved"),
        _("Self-resolution rate"),
        _("Fund advances"),
        _("Overdue clocks"),
        _("Points deducted"),
        _("Score"),
        _("Strike"),
    ]
    rows = [
        [
            r["rank"],
            r["unit"],
            r["name"],
            r["cases"],
            r["self_resolved"],
            r["self_resolution_rate"],
            r["fund_advances"],
            r["overdue"],
            Decimal(r["points_deducted"]),
            Decimal(r["score"]) if r["score"] is not None else None,
            r["strike"]["label"] if r["strike"] else "",
        ]
        for r in data["rows"]
    ]
    return header, rows


@login_required
@require_GET
def monthly(request: HttpRequest) -> HttpResponse:
    actor = page_actor(request)
    params = query_params(request)
    try:
        window = monthly_window(params, now=timezone.now())
    except ParamError as exc:
        return _bad(request, exc)
    report = reports.monthly_report(district_id=actor.district_id, window=window)
    data = reports.monthly_json(report)
    fmt = params.get("format", "html")
    filename = f"monthly-{window.label.replace('..', '-to-')}"
    if fmt == "csv":
        rows: list[list[Any]] = []
        for title, header, table in monthly_tables(data):
            rows += [[title], header, *table, []]
        return csv_response(filename, [_("Monthly statistics"), data["period"]], rows)
    if fmt == "xlsx":
        return xlsx_response(filename, monthly_tables(data))
    channels = dict(Case.Channel.choices)
    context = {
        "data": data,
        "window": window,
        "yoy": {k: _pct(v) for k, v in data["yoy"].items()},
        "closure_rate": _rate(data["closure_rate"]),
        "by_unit": [{**u, "rate": _rate(u["closure_rate"])} for u in data["closure"]["by_unit"]],
        "channels": [(channels.get(k, k), v) for k, v in data["by_channel"].items()],
        "channel_chart": bar_chart(
            [(str(channels.get(k, k)), v) for k, v in data["by_channel"].items()]
        ),
        "closure_chart": bar_chart(
            [(u["unit"] or "-", u["closure_rate"] or 0.0) for u in data["closure"]["by_unit"]],
            target=rules.CLOSURE_TARGET,
            below_target_marked=True,
            percent=True,
        ),
        "series_chart": bar_chart([(s["month"], s["cases_received"]) for s in data["series"]])
        if data["series"]
        else None,
        "target": _rate(rules.CLOSURE_TARGET),
        "params": params,
    }
    return render(request, "command_center/monthly.html", context)


@login_required
@require_GET
def ranking(request: HttpRequest) -> HttpResponse:
    actor = page_actor(request)
    params = query_params(request)
    try:
        month = ranking_month(params, now=timezone.now())
    except ParamError as exc:
        return _bad(request, exc)
    data = reports.ranking_json(district_id=actor.district_id, month=month, now=timezone.now())
    fmt = params.get("format", "html")
    header, rows = ranking_table(data)
    if fmt == "csv":
        return csv_response(f"ranking-{data['month']}", header, rows)
    if fmt == "xlsx":
        return xlsx_response(f"ranking-{data['month']}", [(_("Ranking"), header, rows)])
    context = {
        "data": data,
        "rows": [{**r, "rate": _rate(r["self_resolution_rate"])} for r in data["rows"]],
        "previous": rules.month_label(rules.month_add(month, -1)),
        "next": rules.month_label(rules.month_add(month, 1)),
        "chart": bar_chart(
            [(r["unit"], float(r["score"])) for r in data["rows"] if r["score"] is not None]
        ),
    }
    return render(request, "command_center/ranking.html", context)


@login_required
@require_GET
def unit_record(request: HttpRequest, unit_code: str) -> HttpResponse:
    """A unit's strikes and its place in each closed month's ranking."""
    actor = page_actor(request)
    unit = Unit.objects.filter(district_id=actor.district_id, code=unit_code).first()
    if unit is None:
        raise Http404
    strikes = list(UnitStrike.objects.filter(unit=unit).order_by("-month"))
    months = []
    for closed in RankingMonth.objects.filter(district_id=actor.district_id).order_by("-month")[
        :24
    ]:
        row = next((r for r in closed.rows if r["unit"] == unit.code), None)
        if row is not None:
            months.append(
                {"month": closed.month, **row, "rate": _rate(row["self_resolution_rate"])}
            )
    return render(
        request,
        "command_center/unit_record.html",
        {"unit": unit, "strikes": strikes, "months": months},
    )
