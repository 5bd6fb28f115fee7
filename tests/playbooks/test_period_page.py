"""The sensitive periods' checklists page: who sees it, and moving its steps by form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import SensitivePeriod
from incidents.models import District
from playbooks.models import Checklist, ChecklistStep
from playbooks.services import period_checklists_start, playbooks_install_defaults


@pytest.fixture
def period_checklist(district: District) -> Checklist:
    playbooks_install_defaults(district_id=district.pk)
    today = timezone.localdate()
    SensitivePeriod.objects.create(
        district=district, name="春节", starts_on=today, ends_on=today + timedelta(days=7)
    )
    (checklist,) = period_checklists_start(district_id=district.pk, now=timezone.now())
    return checklist


def logged_in(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password="demo")
    return client


def test_command_sees_every_step_of_the_period_checklist(period_checklist: Checklist) -> None:
    page = logged_in("command").get("/playbooks/").content.decode()

    for step in period_checklist.steps.all():
        assert f'id="step-{step.pk}"' in page
        assert step.title_zh in page
    assert f'action="/playbooks/steps/{period_checklist.steps.first().pk}/"' in page


def test_an_owning_unit_ticks_its_step_by_form(period_checklist: Checklist) -> None:
    step = ChecklistStep.objects.get(checklist=period_checklist, key="hr_on_site")

    answer = logged_in("liaison_hrss").post(
        f"/playbooks/steps/{step.pk}/", {"state": "done", "revision": 0}
    )

    assert answer.status_code == 302
    assert answer["Location"] == f"/playbooks/#step-{step.pk}"
    step.refresh_from_db()
    assert step.state == "done"


def test_another_units_step_is_refused_and_unchanged(period_checklist: Checklist) -> None:
    step = ChecklistStep.objects.get(checklist=period_checklist, key="police_on_site")

    answer = logged_in("liaison_hrss").post(
        f"/playbooks/steps/{step.pk}/", {"state": "done", "revision": 0}, follow=True
    )

    step.refresh_from_db()
    assert step.state == "open"
    assert "只有责任单位" in answer.content.decode() or "Only the owning unit" in (
        answer.content.decode()
    )


def test_a_unit_that_owns_no_step_sees_no_period_checklist(period_checklist: Checklist) -> None:
    page = logged_in("liaison_lianshi").get("/playbooks/").content.decode()

    assert 'class="step ' not in page
