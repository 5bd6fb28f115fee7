"""The period a report is asked for: `?month=YYYY-MM`, or `?from=YYYY-MM&to=YYYY-MM`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _

from command_center.domain import reports as rules
from command_center.reports import month_of, window_for

MONTHLY_PARAMS = frozenset({"month", "from", "to", "format"})
RANKING_PARAMS = frozenset({"month", "format"})
FORMATS = frozenset({"html", "csv", "xlsx"})


class ParamError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _month(params: Mapping[str, str], name: str) -> date:
    try:
        return rules.month_parse(params[name])
    except rules.MonthError:
        raise ParamError(name, _("Give the month as YYYY-MM, e.g. 2026-05.")) from None


def query_params(request: HttpRequest) -> dict[str, str]:
    """The query string as one value per name (a name given twice: its last value)."""
    return {name: request.GET[name] for name in request.GET}


def _check(params: Mapping[str, str], allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise ParamError(name, _("Unknown parameter."))
    fmt = params.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise ParamError("format", _("One of: csv, xlsx."))


def monthly_window(params: Mapping[str, str], *, now: datetime) -> rules.Window:
    """One month (default: the current one) or a range of whole months, at most 24."""
    _check(params, MONTHLY_PARAMS)
    if "month" in params and ("from" in params or "to" in params):
        raise ParamError("month", _("Give either month, or from and to."))
    if "from" in params or "to" in params:
        if "from" not in params or "to" not in params:
            missing = "to" if "from" in params else "from"
            raise ParamError(missing, _("A range needs both from and to."))
        first, last = _month(params, "from"), _month(params, "to")
        if last < first:
            raise ParamError("to", _("The range ends before it starts."))
        if len(rules.months_in(first, last)) > rules.MAX_RANGE_MONTHS:
            raise ParamError(
                "to", _("A range is at most %(n)d months.") % {"n": rules.MAX_RANGE_MONTHS}
            )
        return window_for(first, last)
    month = _month(params, "month") if "month" in params else month_of(now)
    return window_for(month)


def ranking_month(params: Mapping[str, str], *, now: datetime) -> date:
    """The month ranked (default: the last finished one)."""
    _check(params, RANKING_PARAMS)
    if "month" in params:
        return _month(params, "month")
    return rules.month_add(month_of(now), -1)
