"""The early-warning pages: the warning list, one warning and its actions, the public-opinion
form, and the dashboard's early-warning panel.

Warnings are made the way the hub makes them: readings stored with `readings_store` and
scored with `risk_score`, at the present time (the pages read the clock). Under the default
rules and thresholds (yellow 30, orange 60, red 90) a tax credit rating of D last month is
yellow (30), with last month's electricity at 30% of the three months before it is orange
(60), and with nothing paid from the wage account for three months while workers are
registered it is red (100).

A refused request changes nothing: no warning moved, no opinion item stored.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone, translation

from alerts.domain.indicators import Indicator, reading_parse
from alerts.domain.risk import Outcome, WarningAction
from alerts.models import INDICATOR_LABELS, EarlyWarning, OpinionItem, Reading, RiskSubject
from alerts.services.risk import WarningMove, readings_store, risk_score, warning_transition
from incidents.domain.identifiers import CREDIT_ALPHABET
from incidents.models import Enterprise, Event, Project, Unit
from incidents.policy import actor_for
from tests.alerts.risk_helpers import credit_code, district_id, month_back
from tests.html import page_urls

ClientFor = Callable[[str], Client]
Ref = dict[str, str]

_serial = itertools.count(1)


# --- helpers ------------------------------------------------------------------------------


def credit(n: int) -> str:
    return credit_code(n, base=8500000)


month = month_back


def enterprise(n: int, town: str, name: str) -> Ref:
    Enterprise.objects.create(
        district_id=district_id(),
        credit_code=credit(n),
        name=name,
        town=Unit.objects.get(code=town),
    )
    return {"credit_code": credit(n)}


def project(code: str, name: str, project_type: str, town: str, lat: float, lng: float) -> Ref:
    Project.objects.create(
        district_id=district_id(),
        name=name,
        code=code,
        type=project_type,
        town=Unit.objects.get(code=town),
        lat=lat,
        lng=lng,
    )
    return {"project": code}


def store(ref: Ref, rows: list[tuple[str, str, Any]]) -> list[int]:
    """Store readings (indicator, period, value) about `ref`; their ids."""
    now = timezone.now()
    parsed = [
        reading_parse(
            source="feed",
            external_id=f"p{next(_serial)}",
            credit_code=ref.get("credit_code"),
            project=ref.get("project"),
            indicator=indicator,
            period=period,
            value=value,
            today=timezone.localdate(),
        )
        for indicator, period, value in rows
    ]
    with transaction.atomic():
        result = readings_store(district_id=district_id(), batch=list(enumerate(parsed)), now=now)
    assert not result.errors, result.errors
    return list(
        Reading.objects.filter(external_id__in=[p.external_id for p in parsed])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def tax_d(ref: Ref) -> list[int]:
    return store(ref, [("tax_credit_rating", month(1), "D")])


def electricity_drop(ref: Ref) -> list[int]:
    rows: list[tuple[str, str, Any]] = [("electricity_kwh", month(b), 1000) for b in (4, 3, 2)]
    rows.append(("electricity_kwh", month(1), 300))
    return store(ref, rows)


def no_payroll(ref: Ref) -> list[int]:
    return store(
        ref,
        [
            ("registered_workers", month(1), 40),
            ("wage_account_payroll", month(4), 50000),
            ("wage_account_payroll", month(3), 0),
            ("wage_account_payroll", month(2), 0),
            ("wage_account_payroll", month(1), 0),
        ],
    )


RECIPES: dict[str, tuple[Callable[[Ref], list[int]], ...]] = {
    "yellow": (tax_d,),
    "orange": (tax_d, electricity_drop),
    "red": (tax_d, electricity_drop, no_payroll),
}


def feed(ref: Ref, level: str) -> list[int]:
    """Readings that score `ref` at `level`; the ids of all of them."""
    return [pk for recipe in RECIPES[level] for pk in recipe(ref)]


def score() -> None:
    risk_score(district_id=district_id(), now=timezone.now())


def warning_of(ref: Ref) -> EarlyWarning:
    if "project" in ref:
        subject = RiskSubject.objects.get(project__code=ref["project"])
    else:
        subject = RiskSubject.objects.get(enterprise__credit_code=ref["credit_code"])
    return EarlyWarning.objects.select_related("unit").get(subject=subject)


def as_user(username: str) -> Any:
    return actor_for(User.objects.get(username=username))


def zh(message: str) -> str:
    """`message` as the zh-Hans catalogue gives it (the hub's default language)."""
    with translation.override("zh-hans"):
        return translation.gettext(message)


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


def warning_ids(content: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-warning="(\d+)"', content)]


def counts(content: str) -> dict[str, str]:
    """The list page's open counts: {"red": "red 1", ...} as shown (whitespace folded)."""
    found = re.search(r'<p class="warning-counts">(.*?)</p>', content, re.S)
    assert found, "no counts on the page"
    return {
        level: " ".join(html.unescape(text).split())
        for level, text in re.findall(
            r'<span class="warning-badge level-(\w+)">(.*?)</span>', found.group(1), re.S
        )
    }


def overdue_badge(content: str) -> str | None:
    found = re.search(r'<p class="warning-counts">(.*?)</p>', content, re.S)
    assert found
    badge = re.search(r'<span class="badge overdue">(.*?)</span>', found.group(1), re.S)
    return " ".join(badge.group(1).split()) if badge else None


def actions(content: str) -> set[str]:
    return set(re.findall(r'<input type="hidden" name="action" value="(\w+)">', content))


def messages(content: str) -> list[str]:
    found = re.search(r'<ul class="messages no-print">(.*?)</ul>', content, re.S)
    if not found:
        return []
    return [
        html.unescape(m).strip()
        for m in re.findall(r'<li class="message [^"]*"[^>]*>(.*?)</li>', found.group(1), re.S)
    ]


def section(content: str, element_id: str) -> str:
    found = re.search(rf'<section [^>]*id="{element_id}"[^>]*>.*?</section>', content, re.S)
    assert found, f"no #{element_id}"
    return found.group(0)


def warning_row(warning: EarlyWarning) -> tuple[Any, ...]:
    w = EarlyWarning.objects.get(pk=warning.pk)
    return (
        w.state,
        w.unit_id,
        w.revision,
        w.accepted_at,
        w.closed_at,
        w.outcome,
        w.outcome_note,
        w.case_id,
    )


def warning_events() -> int:
    return Event.objects.filter(kind__startswith="warning.").count()


# --- the scene ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    red: EarlyWarning  # an enterprise in Lianshi: the town's
    orange: EarlyWarning  # a real-estate project in Nanxun: the housing bureau's
    yellow: EarlyWarning  # an enterprise in Shuanglin: the town's
    closed: EarlyWarning  # a yellow enterprise in Hefu, closed as no risk
    red_readings: list[int]  # every reading stored about the red one


@pytest.fixture
def scene(normal_time: None) -> Scene:
    red = enterprise(1, "lianshi", "湖州练市红星建筑劳务有限公司")
    orange = project("NX-RE-001", "南浔锦绣花园三期", "real_estate", "nanxun", 30.8801, 120.4233)
    yellow = enterprise(2, "shuanglin", "双林恒通纺织有限公司")
    closed = enterprise(3, "hefu", "和孚顺达物流有限公司")
    red_readings = feed(red, "red")
    feed(orange, "orange")
    feed(yellow, "yellow")
    feed(closed, "yellow")
    score()
    assert EarlyWarning.objects.count() == 4
    gone = warning_of(closed)
    warning_transition(
        actor=as_user("command"),
        warning_id=gone.pk,
        move=WarningMove(WarningAction.CLOSE, note="电表故障，已核实", outcome=Outcome.DATA_ERROR),
    )
    made = Scene(
        red=warning_of(red),
        orange=warning_of(orange),
        yellow=warning_of(yellow),
        closed=warning_of(closed),
        red_readings=red_readings,
    )
    assert [made.red.level, made.orange.level, made.yellow.level] == ["red", "orange", "yellow"]
    assert made.red.unit is not None
    assert made.red.unit.code == "lianshi"
    assert made.orange.unit is not None
    assert made.orange.unit.code == "housing"
    assert made.closed.state == "closed"
    return made


def all_ids(scene: Scene) -> set[int]:
    return {w.pk for w in (scene.red, scene.orange, scene.yellow, scene.closed)}


# --- the list -------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["command", "reviewer", "inspector"])
def test_district_wide_people_see_every_warning(
    api_client: ClientFor, scene: Scene, username: str
) -> None:
    content = page(api_client(username), "/alerts/warnings/")

    assert set(warning_ids(content)) == all_ids(scene)
    assert len(warning_ids(content)) == 4
    for w in (scene.red, scene.orange, scene.yellow, scene.closed):
        assert w.code in content


@pytest.mark.parametrize(
    ("username", "which"), [("liaison_lianshi", "red"), ("liaison_housing", "orange")]
)
def test_a_liaison_sees_only_their_units_warnings(
    api_client: ClientFor, scene: Scene, username: str, which: str
) -> None:
    content = page(api_client(username), "/alerts/warnings/")

    assert warning_ids(content) == [getattr(scene, which).pk]
    assert scene.yellow.code not in content


def test_a_liaison_of_a_unit_without_warnings_sees_none(
    api_client: ClientFor, scene: Scene
) -> None:
    content = page(api_client("liaison_police"), "/alerts/warnings/")

    assert warning_ids(content) == []
    assert counts(content) == {"red": "红色 0", "orange": "橙色 0", "yellow": "黄色 0"}


def test_a_clerk_sees_no_warning(api_client: ClientFor, scene: Scene) -> None:
    content = page(api_client("clerk_lianshi"), "/alerts/warnings/")

    assert warning_ids(content) == []
    assert scene.red.code not in content
    assert counts(content) == {"red": "红色 0", "orange": "橙色 0", "yellow": "黄色 0"}


def test_the_list_is_newest_first_and_names_the_rules_met(
    api_client: ClientFor, scene: Scene
) -> None:
    content = page(api_client("command"), "/alerts/warnings/")

    row = re.search(
        rf'<tr class="warning-row" data-warning="{scene.red.pk}">(.*?)</tr>', content, re.S
    )
    assert row
    cells = [html.unescape(c).strip() for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
    assert "湖州练市红星建筑劳务有限公司" in cells
    assert "用电量骤降" in row.group(1)
    assert "纳税信用D级" in row.group(1)
    assert "工资专户30日未代发工资" in row.group(1)
    assert "练市镇" in row.group(1)
    raised = list(EarlyWarning.objects.order_by("-raised_at", "-id").values_list("pk", flat=True))
    assert warning_ids(content) == raised


@pytest.mark.parametrize(
    ("query", "which"),
    [
        ("state=open", {"red", "orange", "yellow"}),
        ("state=closed", {"closed"}),
        ("state=handling", set()),
        ("level=red", {"red"}),
        ("level=yellow", {"yellow", "closed"}),
        ("state=open&level=yellow", {"yellow"}),
        ("state=open&level=orange", {"orange"}),
        ("state=bogus&level=purple", {"red", "orange", "yellow", "closed"}),  # ignored
    ],
)
def test_the_list_filters_by_state_and_level(
    api_client: ClientFor, scene: Scene, query: str, which: set[str]
) -> None:
    content = page(api_client("command"), f"/alerts/warnings/?{query}")

    assert set(warning_ids(content)) == {getattr(scene, name).pk for name in which}


def test_the_list_marks_the_chosen_filters(api_client: ClientFor, scene: Scene) -> None:
    content = page(api_client("command"), "/alerts/warnings/?state=open&level=red")

    current = re.findall(r'<a href="([^"]*)" aria-current="true" class="current">', content)
    assert [html.unescape(h) for h in current] == ["?state=open&level=red", "?state=open&level=red"]


def test_the_list_counts_open_warnings_by_level(api_client: ClientFor, scene: Scene) -> None:
    content = page(api_client("command"), "/alerts/warnings/")

    # The closed yellow one is not counted.
    assert counts(content) == {"red": "红色 1", "orange": "橙色 1", "yellow": "黄色 1"}
    assert overdue_badge(content) is None
    assert 'class="badge overdue"' not in content


def test_a_liaisons_counts_are_their_units(api_client: ClientFor, scene: Scene) -> None:
    content = page(api_client("liaison_housing"), "/alerts/warnings/")

    assert counts(content) == {"red": "红色 0", "orange": "橙色 1", "yellow": "黄色 0"}


def test_an_overdue_warning_is_badged_and_counted(api_client: ClientFor, scene: Scene) -> None:
    EarlyWarning.objects.filter(pk=scene.yellow.pk).update(
        due_at=timezone.now() - timedelta(hours=1)
    )

    content = page(api_client("command"), "/alerts/warnings/")

    assert overdue_badge(content) == "1 条超时"
    rows = dict(
        re.findall(r'<tr class="warning-row" data-warning="(\d+)">(.*?)</tr>', content, re.S)
    )
    assert 'class="badge overdue"' in rows[str(scene.yellow.pk)]
    assert 'class="badge overdue"' not in rows[str(scene.red.pk)]
    # A closed warning past its due time is not overdue.
    EarlyWarning.objects.filter(pk=scene.closed.pk).update(
        due_at=timezone.now() - timedelta(hours=1)
    )
    rows = dict(
        re.findall(
            r'<tr class="warning-row" data-warning="(\d+)">(.*?)</tr>',
            page(api_client("command"), "/alerts/warnings/"),
            re.S,
        )
    )
    assert 'class="badge overdue"' not in rows[str(scene.closed.pk)]


def test_the_overdue_badge_counts_in_english(api_client: ClientFor, scene: Scene) -> None:
    for w in (scene.red, scene.yellow):
        EarlyWarning.objects.filter(pk=w.pk).update(due_at=timezone.now() - timedelta(hours=1))

    response = api_client("command").get("/alerts/warnings/", HTTP_ACCEPT_LANGUAGE="en")

    content = response.content.decode()
    assert overdue_badge(content) == "2 overdue"
    assert counts(content) == {"red": "red 1", "orange": "orange 1", "yellow": "yellow 1"}


# --- one warning ----------------------------------------------------------------------------


def test_the_detail_page_shows_the_rules_met_and_the_readings_behind(
    api_client: ClientFor, scene: Scene
) -> None:
    content = page(api_client("command"), f"/alerts/warnings/{scene.red.pk}/")

    reasons = re.search(r'<ul class="warning-reasons">(.*?)</ul>', content, re.S)
    assert reasons
    named = re.findall(r"<strong>(.*?)</strong> \(\+(\d+)\)", reasons.group(1))
    assert sorted(named) == sorted(
        [("用电量骤降", "30"), ("纳税信用D级", "30"), ("工资专户30日未代发工资", "40")]
    )
    cited = {i for r in scene.red.reasons for i in r["readings"]}
    assert cited
    assert cited <= set(scene.red_readings)
    table = re.search(
        r"<h2>[^<]*</h2>\s*<table class=\"list compact\">(.*?)</table>", content, re.S
    )
    assert table
    rows = re.findall(
        r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", table.group(1)
    )
    expected = [
        (
            zh(str(INDICATOR_LABELS[Indicator(r.indicator)])),
            r.period_start.strftime("%Y-%m"),
            r.text or format(r.number.normalize(), "f"),  # type: ignore[union-attr]
            f"feed / {r.external_id}",
        )
        for r in Reading.objects.filter(pk__in=cited).order_by("indicator", "period_start", "id")
    ]
    assert [tuple(html.unescape(c) for c in row) for row in rows] == expected
    shown = {(period, value) for _label, period, value, _source in rows}
    assert (month(1), "D") in shown  # the tax rating
    assert (month(1), "300") in shown  # the month electricity fell
    assert (month(4), "1000") in shown  # a month before it
    assert scene.red.code in content
    assert "湖州练市红星建筑劳务有限公司" in content


def test_the_detail_page_names_the_rules_in_english(api_client: ClientFor, scene: Scene) -> None:
    response = api_client("command").get(
        f"/alerts/warnings/{scene.red.pk}/", HTTP_ACCEPT_LANGUAGE="en"
    )

    content = response.content.decode()
    assert "Tax credit rating D" in content
    assert "Electricity use halved" in content
    assert ">Intervene<" in content


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("liaison_lianshi", {"accept", "close"}),
        ("command", {"accept", "close", "reassign"}),
        ("reviewer", set()),
        ("inspector", set()),
    ],
)
def test_the_detail_page_offers_only_the_allowed_actions(
    api_client: ClientFor, scene: Scene, username: str, expected: set[str]
) -> None:
    content = page(api_client(username), f"/alerts/warnings/{scene.red.pk}/")

    assert actions(content) == expected
    assert ('class="warning-actions"' in content) == bool(expected)
    assert ("介入处置" in content) == ("accept" in expected)
    assert ('<select name="unit">' in content) == ("reassign" in expected)


def test_reassign_offers_the_districts_units_with_the_present_one_chosen(
    api_client: ClientFor, scene: Scene
) -> None:
    content = page(api_client("command"), f"/alerts/warnings/{scene.red.pk}/")

    select = re.search(r'<select name="unit">(.*?)</select>', content, re.S)
    assert select
    options = re.findall(r'<option value="(\w+)"( selected)?>', select.group(1))
    assert {code for code, _sel in options} == set(
        Unit.objects.filter(active=True).values_list("code", flat=True)
    )
    assert [code for code, sel in options if sel] == ["lianshi"]


def test_a_warning_being_handled_offers_only_close_to_its_liaison(
    api_client: ClientFor, scene: Scene
) -> None:
    client = api_client("liaison_lianshi")
    assert (
        client.post(f"/alerts/warnings/{scene.red.pk}/move/", {"action": "accept"}).status_code
        == 302
    )

    content = page(client, f"/alerts/warnings/{scene.red.pk}/")

    assert actions(content) == {"close"}


def test_a_closed_warning_offers_nothing(api_client: ClientFor, scene: Scene) -> None:
    content = page(api_client("command"), f"/alerts/warnings/{scene.closed.pk}/")

    assert actions(content) == set()
    assert "电表故障，已核实" in content


@pytest.mark.parametrize("username", ["liaison_housing", "liaison_police", "clerk_lianshi"])
def test_someone_who_may_not_see_a_warning_gets_a_404(
    api_client: ClientFor, scene: Scene, username: str
) -> None:
    before = warning_row(scene.red)

    client = api_client(username)
    assert client.get(f"/alerts/warnings/{scene.red.pk}/").status_code == 404
    for action in ("accept", "close", "reassign"):
        response = client.post(
            f"/alerts/warnings/{scene.red.pk}/move/",
            {"action": action, "outcome": "no_risk", "note": "看过了", "unit": "housing"},
        )
        assert response.status_code == 404

    assert warning_row(scene.red) == before


def test_an_unknown_warning_is_a_404(api_client: ClientFor, scene: Scene) -> None:
    missing = max(all_ids(scene)) + 1000
    client = api_client("command")

    assert client.get(f"/alerts/warnings/{missing}/").status_code == 404
    assert client.post(f"/alerts/warnings/{missing}/move/", {"action": "accept"}).status_code == 404


# --- acting on a warning -----------------------------------------------------------------------


def test_the_liaison_intervenes_from_the_page(api_client: ClientFor, scene: Scene) -> None:
    client = api_client("liaison_lianshi")

    response = client.post(f"/alerts/warnings/{scene.red.pk}/move/", {"action": "accept"})

    assert response.status_code == 302
    assert response["Location"] == f"/alerts/warnings/{scene.red.pk}/"
    w = EarlyWarning.objects.get(pk=scene.red.pk)
    assert w.state == "handling"
    assert w.accepted_at is not None
    assert w.accepted_by == User.objects.get(username="liaison_lianshi")
    assert Event.objects.filter(kind="warning.accepted", data__warning_id=w.pk).count() == 1
    content = page(client, response["Location"])
    assert messages(content) == [zh("Warning updated.")]
    state = re.search(r'<dd class="warning-state">(.*?)</dd>', content, re.S)
    assert state
    assert state.group(1).strip() == zh("being handled")


def test_the_success_message_in_english(api_client: ClientFor, scene: Scene) -> None:
    client = api_client("liaison_lianshi")

    response = client.post(
        f"/alerts/warnings/{scene.red.pk}/move/",
        {"action": "accept"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    content = response.content.decode()
    assert messages(content) == ["Warning updated."]
    assert re.search(r'<dd class="warning-state">\s*being handled', content)


def test_closing_without_a_note_shows_an_error_and_changes_nothing(
    api_client: ClientFor, scene: Scene
) -> None:
    before, events = warning_row(scene.red), warning_events()
    client = api_client("liaison_lianshi")

    response = client.post(
        f"/alerts/warnings/{scene.red.pk}/move/",
        {"action": "close", "outcome": "prevented", "note": ""},
        follow=True,
    )

    assert response.redirect_chain == [(f"/alerts/warnings/{scene.red.pk}/", 302)]
    shown = messages(response.content.decode())
    assert shown
    assert all(m != zh("Warning updated.") for m in shown)
    assert warning_row(scene.red) == before
    assert warning_events() == events


@pytest.mark.parametrize(
    "form",
    [
        {"action": "close", "note": "已约谈企业"},  # no outcome
        {"action": "close", "outcome": "forgiven", "note": "已约谈企业"},  # unknown outcome
        {"action": "close", "outcome": "prevented", "note": "   "},  # a blank note
        {"action": "close", "outcome": "case_opened", "note": "已立案"},  # which case?
        {"action": "close", "outcome": "case_opened", "note": "已立案", "case_number": "NX-0"},
    ],
)
def test_a_bad_close_shows_an_error_and_changes_nothing(
    api_client: ClientFor, scene: Scene, form: dict[str, str]
) -> None:
    before, events = warning_row(scene.red), warning_events()

    response = api_client("command").post(
        f"/alerts/warnings/{scene.red.pk}/move/", form, follow=True
    )

    assert response.status_code == 200
    shown = messages(response.content.decode())
    assert shown
    assert zh("Warning updated.") not in shown
    assert warning_row(scene.red) == before
    assert warning_events() == events


def test_the_liaison_closes_with_an_outcome_and_a_note(api_client: ClientFor, scene: Scene) -> None:
    client = api_client("liaison_lianshi")
    accepted = client.post(
        f"/alerts/warnings/{scene.red.pk}/move/", {"action": "accept"}, follow=True
    )
    assert messages(accepted.content.decode()) == [zh("Warning updated.")]

    response = client.post(
        f"/alerts/warnings/{scene.red.pk}/move/",
        {"action": "close", "outcome": "prevented", "note": "已约谈企业负责人，工资已足额发放"},
        follow=True,
    )

    assert response.status_code == 200
    assert messages(response.content.decode()) == [zh("Warning updated.")]
    w = EarlyWarning.objects.get(pk=scene.red.pk)
    assert (w.state, w.outcome, w.outcome_note) == (
        "closed",
        "prevented",
        "已约谈企业负责人，工资已足额发放",
    )
    assert w.closed_by == User.objects.get(username="liaison_lianshi")
    assert actions(response.content.decode()) == set()
    assert "已约谈企业负责人，工资已足额发放" in response.content.decode()


def test_a_liaison_cannot_reassign(api_client: ClientFor, scene: Scene) -> None:
    before, events = warning_row(scene.red), warning_events()

    response = api_client("liaison_lianshi").post(
        f"/alerts/warnings/{scene.red.pk}/move/", {"action": "reassign", "unit": "housing"}
    )

    assert response.status_code == 403
    assert warning_row(scene.red) == before
    assert warning_events() == events


@pytest.mark.parametrize("username", ["reviewer", "inspector"])
@pytest.mark.parametrize("action", ["accept", "close", "reassign"])
def test_a_reader_cannot_act(
    api_client: ClientFor, scene: Scene, username: str, action: str
) -> None:
    before, events = warning_row(scene.red), warning_events()

    response = api_client(username).post(
        f"/alerts/warnings/{scene.red.pk}/move/",
        {"action": action, "outcome": "no_risk", "note": "看过了", "unit": "housing"},
    )

    assert response.status_code == 403
    assert warning_row(scene.red) == before
    assert warning_events() == events


def test_command_reassigns_to_another_unit(api_client: ClientFor, scene: Scene) -> None:
    response = api_client("command").post(
        f"/alerts/warnings/{scene.red.pk}/move/",
        {"action": "reassign", "unit": "hrss"},
        follow=True,
    )

    assert messages(response.content.decode()) == [zh("Warning updated.")]
    w = EarlyWarning.objects.select_related("unit").get(pk=scene.red.pk)
    assert w.unit is not None
    assert w.unit.code == "hrss"
    # Lianshi's liaison no longer sees it; the new unit's does.
    assert api_client("liaison_lianshi").get(f"/alerts/warnings/{w.pk}/").status_code == 404
    assert actions(page(api_client("liaison_hrss"), f"/alerts/warnings/{w.pk}/")) == {
        "accept",
        "close",
    }


def test_reassigning_to_no_unit_shows_an_error_and_changes_nothing(
    api_client: ClientFor, scene: Scene
) -> None:
    before, events = warning_row(scene.red), warning_events()

    response = api_client("command").post(
        f"/alerts/warnings/{scene.red.pk}/move/",
        {"action": "reassign", "unit": "atlantis"},
        follow=True,
    )

    shown = messages(response.content.decode())
    assert shown
    assert zh("Warning updated.") not in shown
    assert warning_row(scene.red) == before
    assert warning_events() == events


@pytest.mark.parametrize("action", ["", "approve", "ACCEPT", "close "])
def test_an_unknown_action_shows_a_message_and_changes_nothing(
    api_client: ClientFor, scene: Scene, action: str
) -> None:
    before, events = warning_row(scene.red), warning_events()

    response = api_client("command").post(
        f"/alerts/warnings/{scene.red.pk}/move/",
        {"action": action, "outcome": "no_risk", "note": "看过了"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/alerts/warnings/{scene.red.pk}/", 302)]
    assert messages(response.content.decode()) == [zh("Unknown action.")]
    assert warning_row(scene.red) == before
    assert warning_events() == events


def test_intervening_twice_shows_a_message_not_a_403(api_client: ClientFor, scene: Scene) -> None:
    client = api_client("liaison_lianshi")
    assert (
        client.post(f"/alerts/warnings/{scene.red.pk}/move/", {"action": "accept"}).status_code
        == 302
    )
    before, events = warning_row(scene.red), warning_events()

    response = client.post(f"/alerts/warnings/{scene.red.pk}/move/", {"action": "accept"})

    assert warning_row(scene.red) == before
    assert warning_events() == events
    assert response.status_code == 302


def test_the_move_only_takes_post(api_client: ClientFor, scene: Scene) -> None:
    before = warning_row(scene.red)

    response = api_client("command").get(f"/alerts/warnings/{scene.red.pk}/move/?action=accept")

    assert response.status_code == 405
    assert warning_row(scene.red) == before


def test_the_warning_pages_need_a_login(scene: Scene) -> None:
    client = Client()
    before = warning_row(scene.red)

    for url in (
        "/alerts/warnings/",
        f"/alerts/warnings/{scene.red.pk}/",
        "/alerts/opinions/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert urlsplit(response["Location"]).path == "/accounts/login/", url
    response = client.post(f"/alerts/warnings/{scene.red.pk}/move/", {"action": "accept"})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    response = client.post(
        "/alerts/opinions/",
        {"source": "weibo", "text": "x", "reach": "1", "published_at": "2026-01-01 10:00"},
    )
    assert response.status_code == 302
    assert warning_row(scene.red) == before
    assert not OpinionItem.objects.exists()


# --- public opinion ---------------------------------------------------------------------------


def opinion_form(**changes: str) -> dict[str, str]:
    published = timezone.localtime() - timedelta(hours=3)
    form = {
        "source": "weibo",
        "text": "练市红星建筑工地工人讨薪，称三个月未发工资",
        "link": "https://weibo.com/1234567890/Nabc",
        "reach": "5200",
        "published_at": published.strftime("%Y-%m-%d %H:%M"),
        "credit_code": "",
        "project": "",
        "incident": "",
    }
    form.update(changes)
    return form


def form_errors(content: str) -> list[str]:
    return [
        html.unescape(e).strip()
        for e in re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', content, re.S)
    ]


def test_command_records_an_opinion_item_and_sees_it_listed(
    api_client: ClientFor, scene: Scene
) -> None:
    client = api_client("command")
    code = credit(1)

    response = client.post("/alerts/opinions/", opinion_form(credit_code=code.lower()))

    assert response.status_code == 302
    assert response["Location"] == "/alerts/opinions/"
    item = OpinionItem.objects.select_related("subject__enterprise").get()
    assert item.subject is not None
    assert item.subject.enterprise is not None
    assert item.subject.enterprise.credit_code == code
    assert (item.source, item.reach, item.link) == (
        "weibo",
        5200,
        "https://weibo.com/1234567890/Nabc",
    )
    assert item.recorded_by == User.objects.get(username="command")
    assert Event.objects.filter(kind="opinion.recorded", data__opinion_id=item.pk).exists()
    content = page(client, "/alerts/opinions/")
    assert messages(content) == [zh("Public opinion item recorded.")]
    assert "练市红星建筑工地工人讨薪" in content
    assert "湖州练市红星建筑劳务有限公司" in content
    assert 'href="https://weibo.com/1234567890/Nabc" rel="noopener noreferrer nofollow"' in content


def test_an_opinion_item_may_name_a_project(api_client: ClientFor, scene: Scene) -> None:
    response = api_client("command").post(
        "/alerts/opinions/", opinion_form(project=" NX-RE-001 ", link="")
    )

    assert response.status_code == 302
    item = OpinionItem.objects.select_related("subject__project").get()
    assert item.subject is not None
    assert item.subject.project is not None
    assert item.subject.project.code == "NX-RE-001"
    assert item.link == ""


def test_a_liaison_records_an_item_but_does_not_see_the_district_list(
    api_client: ClientFor, scene: Scene
) -> None:
    client = api_client("liaison_lianshi")
    command = api_client("command")
    assert (
        command.post(
            "/alerts/opinions/", opinion_form(text="指挥中心录入的舆情", credit_code=credit(2))
        ).status_code
        == 302
    )

    response = client.post(
        "/alerts/opinions/", opinion_form(text="练市镇网信员上报的舆情", credit_code=credit(1))
    )

    assert response.status_code == 302
    assert OpinionItem.objects.filter(text="练市镇网信员上报的舆情").count() == 1
    content = page(client, "/alerts/opinions/")
    assert 'class="stacked opinion-form"' in content
    assert "指挥中心录入的舆情" not in content
    assert "练市镇网信员上报的舆情" not in content
    assert "<table" not in content


@pytest.mark.parametrize("username", ["reviewer", "clerk_lianshi"])
def test_someone_else_cannot_record_an_item(
    api_client: ClientFor, scene: Scene, username: str
) -> None:
    response = api_client(username).post("/alerts/opinions/", opinion_form(credit_code=credit(1)))

    assert response.status_code == 403
    assert not OpinionItem.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"link": "not a link"}, "link"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"text": ""}, "text"),
        ({"reach": "-1"}, "reach"),
        ({"reach": "many"}, "reach"),
        ({"published_at": "yesterday"}, "published_at"),
        ({"source": "微博 热搜"}, "source"),
        ({"incident": "0"}, "incident"),
    ],
)
def test_bad_input_is_a_422_with_the_errors_and_nothing_stored(
    api_client: ClientFor, scene: Scene, changes: dict[str, str], field: str
) -> None:
    events = Event.objects.count()

    response = api_client("command").post(
        "/alerts/opinions/", opinion_form(credit_code=credit(1), **changes)
    )

    assert response.status_code == 422
    content = response.content.decode()
    assert form_errors(content)
    assert re.search(rf'<ul class="errorlist" id="id_{field}_error">\s*<li>', content)
    assert re.search(rf'<[^>]* name="{field}"[^>]*aria-invalid="true"', content)
    assert not OpinionItem.objects.exists()
    assert Event.objects.count() == events


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"project": "NO-SUCH-PROJECT"}, "No such project."),
        ({"incident": "999999"}, "No such incident."),
    ],
)
def test_an_unknown_subject_is_a_422_and_nothing_stored(
    api_client: ClientFor, scene: Scene, changes: dict[str, str], error: str
) -> None:
    events = Event.objects.count()

    response = api_client("command").post("/alerts/opinions/", opinion_form(**changes))

    assert response.status_code == 422
    errors = form_errors(response.content.decode())
    assert any(zh(error) in e for e in errors), errors
    assert not OpinionItem.objects.exists()
    assert Event.objects.count() == events


def test_an_item_about_nothing_is_a_422_and_nothing_stored(scene: Scene) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(username="command"))

    response = client.post("/alerts/opinions/", opinion_form())

    assert response.status_code == 422
    assert form_errors(response.content.decode())
    assert not OpinionItem.objects.exists()


def test_a_malformed_credit_code_is_a_422_and_nothing_stored(
    api_client: ClientFor, scene: Scene
) -> None:
    good = credit(9)
    wrong = next(c for c in CREDIT_ALPHABET if c != good[-1])
    enterprises = Enterprise.objects.count()

    response = api_client("command").post(
        "/alerts/opinions/", opinion_form(credit_code=good[:-1] + wrong)
    )

    assert response.status_code == 422
    assert not OpinionItem.objects.exists()
    assert Enterprise.objects.count() == enterprises


def foreign_urls(content: str) -> list[str]:
    return [u for u in page_urls(content) if urlsplit(u).netloc not in {"", "testserver"}]


def inline_scripts(content: str) -> list[str]:
    """Script tags that are neither the hub's own files nor JSON data."""
    return [
        tag
        for tag in re.findall(r"<script\b[^>]*>", content)
        if not re.search(r'src="/(static|maps)/[^"]+\.js[^"]*"', tag)
        and 'type="application/json"' not in tag
    ]


@pytest.mark.parametrize(
    "url",
    ["/alerts/warnings/", "/alerts/warnings/{red}/", "/alerts/opinions/", "/alerts/opinions/?x=1"],
)
def test_the_pages_name_no_other_host_and_run_no_inline_script(
    api_client: ClientFor, scene: Scene, url: str
) -> None:
    content = page(api_client("command"), url.format(red=scene.red.pk))

    assert foreign_urls(content) == []
    assert inline_scripts(content) == []


def test_the_opinion_page_names_no_other_host_but_the_items_own_links(
    api_client: ClientFor, scene: Scene
) -> None:
    client = api_client("command")
    assert client.post("/alerts/opinions/", opinion_form(credit_code=credit(1))).status_code == 302

    content = page(client, "/alerts/opinions/")

    assert foreign_urls(content) == ["https://weibo.com/1234567890/Nabc"]
    assert inline_scripts(content) == []


def test_the_opinion_form_with_errors_runs_no_inline_script(
    api_client: ClientFor, scene: Scene
) -> None:
    response = api_client("command").post("/alerts/opinions/", opinion_form(link="nope"))

    assert response.status_code == 422
    assert foreign_urls(response.content.decode()) == []
    assert inline_scripts(response.content.decode()) == []


# --- the dashboard --------------------------------------------------------------------------


def panel_counts(panel: str) -> dict[str, int]:
    return {
        level: int(n)
        for level, n in re.findall(
            r'data-level="(\w+)">[^<]*<span class="n">(\d+)</span>', panel, re.S
        )
    }


def panel_classes(panel: str) -> set[str]:
    found = re.match(r'<section class="([^"]*)"', panel)
    assert found
    return set(found.group(1).split())


@pytest.mark.parametrize("url", ["/", "/dashboard/panels/"])
def test_the_dashboard_panel_counts_open_warnings_and_lists_the_latest(
    api_client: ClientFor, scene: Scene, url: str
) -> None:
    panel = section(page(api_client("command"), url), "warnings-panel")

    assert panel_counts(panel) == {"red": 1, "orange": 1, "yellow": 1}
    listed = [
        int(n) for n in re.findall(r'<li class="warning level-\w+" data-warning="(\d+)">', panel)
    ]
    assert listed == [scene.red.pk, scene.orange.pk, scene.yellow.pk]  # red first
    assert "湖州练市红星建筑劳务有限公司" in panel
    assert "南浔锦绣花园三期" in panel
    assert scene.closed.code not in panel
    assert f'href="/alerts/warnings/{scene.red.pk}/"' in panel
    assert 'href="/alerts/warnings/"' in panel
    assert "alarm" in panel_classes(panel)  # a red warning is open


def test_the_panel_has_no_alarm_without_a_red_or_overdue_warning(
    api_client: ClientFor, scene: Scene
) -> None:
    warning_transition(
        actor=as_user("command"),
        warning_id=scene.red.pk,
        move=WarningMove(WarningAction.CLOSE, note="已核实", outcome=Outcome.NO_RISK),
    )

    panel = section(page(api_client("command"), "/dashboard/panels/"), "warnings-panel")

    assert panel_counts(panel) == {"red": 0, "orange": 1, "yellow": 1}
    assert "alarm" not in panel_classes(panel)
    assert 'class="badge overdue"' not in panel

    EarlyWarning.objects.filter(pk=scene.yellow.pk).update(
        due_at=timezone.now() - timedelta(minutes=5)
    )
    panel = section(page(api_client("command"), "/dashboard/panels/"), "warnings-panel")
    assert "alarm" in panel_classes(panel)
    assert 'class="badge overdue"' in panel


def test_a_liaisons_dashboard_panel_shows_their_units_warnings(
    api_client: ClientFor, scene: Scene
) -> None:
    panel = section(page(api_client("liaison_housing"), "/dashboard/panels/"), "warnings-panel")

    assert panel_counts(panel) == {"red": 0, "orange": 1, "yellow": 0}
    assert "alarm" not in panel_classes(panel)


def test_the_event_feed_links_a_raised_warning(api_client: ClientFor, scene: Scene) -> None:
    content = page(api_client("command"), "/")

    feed_list = re.search(r'<ol class="event-feed" id="event-feed">(.*?)</ol>', content, re.S)
    assert feed_list
    raised = re.findall(
        r'<li class="event" data-id="\d+" data-kind="warning.raised">(.*?)</li>',
        feed_list.group(1),
        re.S,
    )
    assert len(raised) == 4
    red = next(r for r in raised if f'href="/alerts/warnings/{scene.red.pk}/"' in r)
    assert "发出欠薪预警" in red
    assert scene.red.code in red
    assert 'class="warning-badge level-red"' in red


# --- both languages ---------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "title"), [("en", "Early warnings"), ("zh-hans", "欠薪预警")])
def test_the_pages_speak_both_languages(
    api_client: ClientFor, scene: Scene, language: str, title: str
) -> None:
    client = api_client("command")

    listing = client.get("/alerts/warnings/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    dashboard = client.get("/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert f"<h1>{title}</h1>" in listing
    heading = re.search(r'<h2 id="warnings-title"><a href="/alerts/warnings/">(.*?)</a>', dashboard)
    assert heading
    assert heading.group(1) == title
