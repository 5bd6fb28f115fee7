"""Editing playbook templates in the admin: the template and its steps checked whole by the
rules of a YAML import, each change frozen as the next version, and the checklists read-only.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from incidents.models import District
from playbooks.models import PlaybookStep, PlaybookTemplate, PlaybookVersion
from playbooks.services import playbooks_export, playbooks_save

ADD = "/admin/playbooks/playbooktemplate/add/"


def change_url(template: PlaybookTemplate) -> str:
    return f"/admin/playbooks/playbooktemplate/{template.pk}/change/"


class FormFields(HTMLParser):
    """What a browser would post from the page's form: every named field with its value
    (checked boxes only, selected options), leaving out the empty form templates."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str | None, value: str | None) -> None:
        if name and "__prefix__" not in name:
            self.data.setdefault(name, []).append(value or "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(name, a.get("value") or "on")
                return
            self._add(name, a.get("value"))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value"))
        elif tag == "textarea":
            self._textarea = name
            self._add(name, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and "__prefix__" not in self._textarea:
            values = self.data[self._textarea]
            values[-1] += data.removeprefix("\n") if not values[-1] else data


def form_of(client: Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200
    parser = FormFields()
    parser.feed(response.content.decode())
    parser.data.pop("csrfmiddlewaretoken", None)
    return {
        k: v if len(v) > 1 or k in ("kinds", "levels") else v[0] for k, v in parser.data.items()
    }


def step_fields(n: int, **values: Any) -> dict[str, Any]:
    return {f"steps-{n}-{name}": value for name, value in values.items()}


def add_form(district: District, **overrides: Any) -> dict[str, Any]:
    """The add page filled in as an administrator would, with two steps."""
    data: dict[str, Any] = {
        "district": str(district.pk),
        "key": "site_gathering",
        "name": "现场聚集",
        "trigger": "incident",
        "kinds": ["site_gathering", "gate_gathering"],
        "levels": ["III", "IV"],
        "active": "on",
        "steps-TOTAL_FORMS": "2",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
        **step_fields(
            0,
            position="0",
            key="police_order",
            title_zh="公安维持秩序",
            title_en="Police keep order",
            owner="police",
            due_minutes="15",
            required="on",
            sms="on",
            evidence="none",
            evidence_label="",
            note="",
        ),
        **step_fields(
            1,
            position="1",
            key="wages_paid",
            title_zh="现场发放工资",
            title_en="Wages paid",
            owner="town",
            due_minutes="480",
            required="on",
            evidence="number",
            evidence_label="金额（元）",
            note="逐人签字",
        ),
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_client(district: District) -> Client:
    user = User.objects.create_superuser("root", "root@example.cn", "secret")
    client = Client()
    client.force_login(user)
    return client


def page_text(response: Any) -> str:
    return html.unescape(response.content.decode())


def created(admin_client: Client, district: District) -> PlaybookTemplate:
    response = admin_client.post(ADD, add_form(district))
    assert response.status_code == 302, page_text(response)
    return PlaybookTemplate.objects.get(key="site_gathering")


def test_the_add_page_offers_the_template_and_its_steps(admin_client: Client) -> None:
    response = admin_client.get(ADD)
    assert response.status_code == 200
    text = response.content.decode()
    for name in ("district", "key", "name", "trigger", "kinds", "levels", "steps-TOTAL_FORMS"):
        assert f'name="{name}"' in text
    for field in ("position", "key", "owner", "due_minutes", "evidence", "evidence_label"):
        assert f'name="steps-__prefix__-{field}"' in text
    # Versions are frozen by saving, never added by hand.
    assert 'name="versions-__prefix__-version"' not in text


def test_a_good_template_is_created_as_version_1(admin_client: Client, district: District) -> None:
    template = created(admin_client, district)
    assert template.version == 1
    assert template.kinds == ["site_gathering", "gate_gathering"]
    steps = list(template.steps.order_by("position"))
    assert [(s.key, s.owner, s.due_minutes, s.sms, s.evidence) for s in steps] == [
        ("police_order", "police", 15, True, "none"),
        ("wages_paid", "town", 480, False, "number"),
    ]
    (version,) = PlaybookVersion.objects.filter(template=template)
    assert (version.version, version.source, version.created_by) == (
        1,
        "admin",
        User.objects.get(username="root"),
    )
    assert version.definition["key"] == "site_gathering"
    assert version.definition["version"] == 1
    assert version.definition["kinds"] == ["gate_gathering", "site_gathering"]
    assert version.definition["levels"] == ["III", "IV"]
    assert version.definition["steps"][1] == {
        "key": "wages_paid",
        "title_zh": "现场发放工资",
        "title_en": "Wages paid",
        "owner": "town",
        "due_minutes": 480,
        "required": True,
        "note": "逐人签字",
        "sms": False,
        "evidence": "number",
        "evidence_label": "金额（元）",
    }


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            step_fields(1, owner="nowhere"),
            "steps[1].owner: unknown unit 'nowhere' (a unit code or 'command' or 'town')",
        ),
        ({"levels": []}, "levels: give a list of at least one of I, II, III, IV"),
        (step_fields(1, key="police_order"), "steps[1].key: 'police_order' is used twice"),
        ({"key": "Site-Gathering"}, "key: give a key of lower-case letters"),
        (
            {"trigger": "sensitive_period", "kinds": [], "levels": []},
            "steps[1].owner: unknown unit 'town' (a unit code or 'command')",
        ),
        ({"steps-TOTAL_FORMS": "0"}, "steps: give a list of at least one step"),
    ],
)
def test_a_bad_template_is_refused_with_its_problem_shown(
    admin_client: Client, district: District, overrides: dict[str, Any], problem: str
) -> None:
    response = admin_client.post(ADD, add_form(district, **overrides))
    assert response.status_code == 200
    assert problem in page_text(response)
    assert not PlaybookTemplate.objects.exists()
    assert not PlaybookStep.objects.exists()
    assert not PlaybookVersion.objects.exists()


def test_a_sensitive_period_template_with_incident_kinds_is_refused_not_a_crash(
    district: District,
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("root", "root@example.cn", "secret"))
    data = add_form(district, trigger="sensitive_period", key="holiday")
    data.update(step_fields(1, owner="command"))
    response = client.post(ADD, data)
    assert response.status_code == 200
    assert "kinds, levels: a sensitive-period checklist matches no incident" in page_text(response)
    assert not PlaybookTemplate.objects.exists()


def test_a_sensitive_period_template_is_created_without_kinds(
    admin_client: Client, district: District
) -> None:
    data = add_form(district, trigger="sensitive_period", key="holiday", kinds=[], levels=[])
    data.update(step_fields(1, owner="command"))
    response = admin_client.post(ADD, data)
    assert response.status_code == 302, page_text(response)
    version = PlaybookVersion.objects.get(template__key="holiday")
    assert version.definition["trigger"] == "sensitive_period"
    assert (version.definition["kinds"], version.definition["levels"]) == ([], [])


def test_editing_a_step_makes_version_2_and_keeps_version_1(
    admin_client: Client, district: District
) -> None:
    template = created(admin_client, district)
    v1 = PlaybookVersion.objects.get(template=template, version=1)
    v1_definition = v1.definition
    form = form_of(admin_client, change_url(template))
    assert form["steps-INITIAL_FORMS"] == "2"
    assert form["versions-INITIAL_FORMS"] == "1"
    assert form["steps-0-title_zh"] == "公安维持秩序"
    form["steps-0-title_zh"] = "公安派员到场"
    response = admin_client.post(change_url(template), form)
    assert response.status_code == 302, page_text(response)

    template.refresh_from_db()
    assert template.version == 2
    assert template.steps.get(key="police_order").title_zh == "公安派员到场"
    v1.refresh_from_db()
    assert v1.definition == v1_definition
    assert v1.definition["steps"][0]["title_zh"] == "公安维持秩序"
    v2 = PlaybookVersion.objects.get(template=template, version=2)
    assert v2.definition["steps"][0]["title_zh"] == "公安派员到场"
    assert v2.definition["version"] == 2
    assert {**v2.definition, "version": 1, "steps": v1.definition["steps"]} == v1.definition


def test_saving_without_a_change_makes_no_version(admin_client: Client, district: District) -> None:
    template = created(admin_client, district)
    response = admin_client.post(change_url(template), form_of(admin_client, change_url(template)))
    assert response.status_code == 302, page_text(response)
    template.refresh_from_db()
    assert template.version == 1
    assert PlaybookVersion.objects.filter(template=template).count() == 1


def test_switching_a_template_off_is_no_new_version(
    admin_client: Client, district: District
) -> None:
    template = created(admin_client, district)
    form = form_of(admin_client, change_url(template))
    del form["active"]
    assert admin_client.post(change_url(template), form).status_code == 302
    template.refresh_from_db()
    assert (template.active, template.version) == (False, 1)


def test_deleting_a_step_makes_the_next_version(admin_client: Client, district: District) -> None:
    template = created(admin_client, district)
    form = form_of(admin_client, change_url(template))
    form["steps-1-DELETE"] = "on"
    assert admin_client.post(change_url(template), form).status_code == 302
    template.refresh_from_db()
    assert template.version == 2
    assert [s["key"] for s in template.versions.get(version=2).definition["steps"]] == [
        "police_order"
    ]
    assert len(template.versions.get(version=1).definition["steps"]) == 2


def test_an_edit_that_breaks_the_template_changes_nothing(
    admin_client: Client, district: District
) -> None:
    template = created(admin_client, district)
    form = form_of(admin_client, change_url(template))
    form["steps-0-title_zh"] = "改了"
    form["steps-1-owner"] = "tax_bureau"
    response = admin_client.post(change_url(template), form)
    assert response.status_code == 200
    assert "steps[1].owner: unknown unit 'tax_bureau'" in page_text(response)
    template.refresh_from_db()
    assert template.version == 1
    assert template.steps.get(key="police_order").title_zh == "公安维持秩序"
    assert template.steps.get(key="wages_paid").owner == "town"


def test_an_older_export_equal_to_an_admin_edited_template_is_no_conflict(
    admin_client: Client, district: District
) -> None:
    template = created(admin_client, district)
    (exported,) = playbooks_export(district_id=district.pk)
    for name in ("现场聚集（临时）", "现场聚集"):
        form = form_of(admin_client, change_url(template))
        form["name"] = name
        assert admin_client.post(change_url(template), form).status_code == 302
    template.refresh_from_db()
    assert template.version == 3
    saved = playbooks_save([exported], district_id=district.pk, source="import")
    assert [(s.outcome, s.version) for s in saved] == [("unchanged", 3)]


def test_an_import_after_an_admin_edit_sees_no_change(
    admin_client: Client, district: District
) -> None:
    created(admin_client, district)
    (exported,) = playbooks_export(district_id=district.pk)
    saved = playbooks_save([exported], district_id=district.pk, source="import")
    assert [(s.outcome, s.version) for s in saved] == [("unchanged", 1)]


@pytest.mark.parametrize("model", ["checklist", "checkliststep"])
def test_checklists_are_read_only_in_the_admin(admin_client: Client, model: str) -> None:
    assert admin_client.get(f"/admin/playbooks/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/playbooks/{model}/add/", {}).status_code == 403
    assert admin_client.get(f"/admin/playbooks/{model}/").status_code == 200
