"""Map data for the feeds: the demo outlines, sites and landmarks, and a few cases and
incidents placed around the district (see `Scene`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Case, District, Incident
from maps.demo import load_map_reference
from tests.live.helpers import register_case
from tests.maps.helpers import close_case, close_incident, make_case, make_incident

NANXUN_SITE = (30.881, 120.426)
BRIDGE_SITE = (30.717, 120.440)
HEFU_SITE = (30.790, 120.180)
LINGHU_SITE = (30.720, 120.210)
OLD_DAYS = 120


@dataclass(frozen=True)
class Scene:
    housing: Case  # at the Lianshi window, no position; housing's, Lianshi assists
    nanxun: Case  # in Nanxun, the town's own
    bridge: Case  # in Lianshi, on the bridge project: the transport bureau's alone
    closed: Case  # in Hefu, closed
    old: Case  # in Linghu, received OLD_DAYS days ago
    incident: Incident  # level III in Lianshi, linked to the housing and bridge cases
    small: Incident  # level IV in Nanxun
    over: Incident  # level II in Shuanglin, closed


@pytest.fixture
def map_data(district: District) -> District:
    load_map_reference(district)
    return district


@pytest.fixture
def scene(map_data: District) -> Scene:
    housing = register_case()
    nanxun = make_case(town="nanxun", lat=NANXUN_SITE[0], lng=NANXUN_SITE[1], workers=5)
    bridge = make_case(
        town="lianshi",
        lat=BRIDGE_SITE[0],
        lng=BRIDGE_SITE[1],
        project_type="transport",
        project_name="练市大桥改建",
        workers=8,
    )
    closed = make_case(town="hefu", lat=HEFU_SITE[0], lng=HEFU_SITE[1], workers=2)
    close_case(closed.number)
    old = make_case(
        town="linghu",
        lat=LINGHU_SITE[0],
        lng=LINGHU_SITE[1],
        workers=20,
        received_at=timezone.now() - timedelta(days=OLD_DAYS),
    )
    incident = make_incident(town="lianshi", people=40, cases=[housing.number, bridge.number])
    small = make_incident(town="nanxun", lat=30.875, lng=120.430, people=5)
    over = make_incident(town="shuanglin", lat=30.777, lng=120.334, people=120)
    close_incident(over)
    # The bridge project exists now: the demo map data gives it its site.
    load_map_reference(map_data)
    fresh = {
        c.pk: c
        for c in Case.objects.filter(pk__in=[housing.pk, nanxun.pk, bridge.pk, closed.pk, old.pk])
    }
    return Scene(
        housing=fresh[housing.pk],
        nanxun=fresh[nanxun.pk],
        bridge=fresh[bridge.pk],
        closed=fresh[closed.pk],
        old=fresh[old.pk],
        incident=Incident.objects.get(pk=incident.pk),
        small=Incident.objects.get(pk=small.pk),
        over=Incident.objects.get(pk=over.pk),
    )
