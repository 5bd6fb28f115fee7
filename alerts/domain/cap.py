"""A mass incident as an OASIS Common Alerting Protocol 1.2 alert message (CAP XML).

Plain Python, no Django: the caller gathers the incident's facts into a `CapIncident`, and
`cap_alert_xml` renders one `<alert>` in the CAP 1.2 namespace, its elements in the order of
the OASIS schema's sequences, with one `<info>` in Chinese and one in English.

The message is for the joint command and the responding units only (scope Restricted). Its
texts are built from the incident's code, level, kind, town and people count, and from nothing
else: a CAP message is forwarded and archived beyond this hub, so it must never carry a
complainant's name, phone or ID number. Labels that look like a phone or ID number are refused.

CAP's own rules that the schema does not check are enforced here too: `identifier` and
`sender` hold no spaces, commas or `<`/`&`; times are `YYYY-MM-DDThh:mm:ss±hh:mm` with UTC
written `-00:00` (never `Z`); an Update or a Cancel names the earlier messages it refers to.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET  # nosec B405  # writes our own XML, never parses any
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from alerts.domain.messages import contains_personal_data
from incidents.domain.incidents import Kind, Level, Status

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
MSG_TYPES = ("Alert", "Update", "Cancel")

SEVERITY_BY_LEVEL: dict[Level, str] = {
    Level.I: "Extreme",
    Level.II: "Severe",
    Level.III: "Moderate",
    Level.IV: "Minor",
}
RESTRICTION = "仅限联合指挥部及处置单位 / Joint command and responding units only"

_STATUS_ZH = {
    Status.REPORTED: "已报告",
    Status.ACTIVE: "处置中",
    Status.CONTAINED: "已控制",
    Status.CLOSED: "已结束",
}
_STATUS_EN = {
    Status.REPORTED: "reported",
    Status.ACTIVE: "being handled",
    Status.CONTAINED: "contained",
    Status.CLOSED: "closed",
}

# CAP 1.2 §3.3.2: identifier, sender and each reference part exclude spaces, commas and the
# XML-restricted characters < and &.
_CAP_TOKEN = re.compile(r"^[^\s,<&]+$")
# Characters XML 1.0 cannot carry at all, plus the line breaks and tabs a one-line label has
# no use for (C0/C1 controls, DEL, surrogates, U+FFFE/U+FFFF).
_NOT_IN_LABEL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_CAP_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


def _q(tag: str) -> str:
    return f"{{{CAP_NAMESPACE}}}{tag}"


def cap_severity(level: str) -> str:
    """CAP severity of an incident level: I Extreme, II Severe, III Moderate, IV Minor.

    Raises `ValueError` for anything but the four levels.
    """
    return SEVERITY_BY_LEVEL[Level(level)]


def cap_datetime(moment: datetime) -> str:
    """`moment` as CAP 1.2 writes a time: `2026-11-26T10:30:00+08:00`, whole seconds.

    The offset is the one `moment` carries; a zero offset is written `-00:00`, as CAP 1.2
    requires for UTC. Raises `ValueError` for a naive datetime or an offset that is not a
    whole number of minutes (CAP cannot write it).
    """
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"a CAP time needs a timezone, got naive {moment.isoformat()}")
    if offset % timedelta(minutes=1):
        raise ValueError(f"CAP cannot write the UTC offset {offset} (seconds in it)")
    minutes = int(offset / timedelta(minutes=1))
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    m = moment
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f"{sign}{hours:02d}:{mins:02d}"
    )


def cap_reference(sender: str, identifier: str, sent: datetime) -> str:
    """One entry of CAP `references`: `sender,identifier,sent` of an earlier message."""
    _check_token("sender", sender)
    _check_token("identifier", identifier)
    return f"{sender},{identifier},{cap_datetime(sent)}"


@dataclass(frozen=True, kw_only=True)
class CapIncident:
    """What a CAP message about one mass incident says; checked when it is made.

    `references` are earlier messages as `cap_reference` writes them; an Update or a Cancel
    needs at least one. `kinds` are optional incident kinds (`incidents.domain.incidents.Kind`
    values); each becomes an `eventCode`, and a blocked road adds the category Transport.
    Invalid values raise `ValueError`.
    """

    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    references: tuple[str, ...]
    level: str
    status: str
    kind_label_zh: str
    kind_label_en: str
    town_zh: str
    town_en: str
    people_count: int
    code: str
    lat: float
    lng: float
    radius_km: float = 0.5
    web: str
    expires: datetime | None = None
    sender_name_zh: str = "欠薪联合指挥部"
    sender_name_en: str = "Wage-Arrears Joint Command"
    kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_token("identifier", self.identifier)
        _check_token("sender", self.sender)
        cap_datetime(self.sent)
        if self.msg_type not in MSG_TYPES:
            raise ValueError(f"msg_type must be one of {MSG_TYPES}, not {self.msg_type!r}")
        if self.msg_type != "Alert" and not self.references:
            raise ValueError(f"a CAP {self.msg_type} must reference the message(s) it follows")
        for reference in self.references:
            _check_reference(reference)
        Level(self.level)
        Status(self.status)
        for kind in self.kinds:
            Kind(kind)
        _check_token("code", self.code)
        for name in ("kind_label_zh", "kind_label_en", "town_zh", "town_en", "code"):
            _check_label(name, getattr(self, name), personal_data=True)
        for name in ("sender_name_zh", "sender_name_en"):
            _check_label(name, getattr(self, name), personal_data=False)
        if isinstance(self.people_count, bool) or self.people_count < 0:
            raise ValueError(f"people_count must be a count, not {self.people_count!r}")
        if not (math.isfinite(self.lat) and -90 <= self.lat <= 90):
            raise ValueError(f"lat must be a WGS 84 latitude, not {self.lat!r}")
        if not (math.isfinite(self.lng) and -180 <= self.lng <= 180):
            raise ValueError(f"lng must be a WGS 84 longitude, not {self.lng!r}")
        radius_ok = math.isfinite(self.radius_km) and self.radius_km > 0
        if not radius_ok or _decimal(self.radius_km, 3) == "0":
            raise ValueError(f"radius_km must be at least 0.001 (1 m), not {self.radius_km!r}")
        _check_web(self.web)
        if self.expires is not None:
            cap_datetime(self.expires)
            if self.expires <= self.sent:
                raise ValueError("expires must come after sent")


def cap_alert_xml(incident: CapIncident) -> bytes:
    """The incident as one CAP 1.2 `<alert>`: UTF-8 bytes with an XML declaration."""
    alert = ET.Element(_q("alert"))
    _add(alert, "identifier", incident.identifier)
    _add(alert, "sender", incident.sender)
    _add(alert, "sent", cap_datetime(incident.sent))
    _add(alert, "status", "Actual")
    _add(alert, "msgType", incident.msg_type)
    _add(alert, "scope", "Restricted")
    _add(alert, "restriction", RESTRICTION)
    if incident.references:
        _add(alert, "references", " ".join(incident.references))
    _add(alert, "incidents", incident.code)
    _add_info(alert, incident, "zh-CN")
    _add_info(alert, incident, "en-US")
    document: bytes = ET.tostring(
        alert, encoding="UTF-8", xml_declaration=True, default_namespace=CAP_NAMESPACE
    )
    return document


def _add_info(alert: ET.Element, incident: CapIncident, language: str) -> None:
    """One `<info>` block, its children in the order of the CAP 1.2 schema's sequence."""
    zh = language == "zh-CN"
    level = Level(incident.level)
    status = Status(incident.status)
    closed = status == Status.CLOSED
    info = _add(alert, "info")
    _add(info, "language", language)
    _add(info, "category", "Safety")
    if Kind.ROAD_BLOCKING.value in incident.kinds:
        _add(info, "category", "Transport")
    _add(info, "event", _event(incident, zh=zh))
    _add(info, "responseType", "AllClear" if closed else "Monitor")
    _add(info, "urgency", "Past" if closed else "Immediate")
    _add(info, "severity", cap_severity(level))
    _add(info, "certainty", "Observed")
    for kind in incident.kinds:
        _add_pair(info, "eventCode", "incident_kind", kind)
    if incident.expires is not None:
        _add(info, "expires", cap_datetime(incident.expires))
    _add(info, "senderName", incident.sender_name_zh if zh else incident.sender_name_en)
    _add(info, "headline", _headline(incident, zh=zh))
    _add(info, "description", _description(incident, zh=zh))
    _add(info, "web", incident.web)
    _add_pair(info, "parameter", "level", level.value)
    _add_pair(info, "parameter", "status", status.value)
    area = _add(info, "area")
    _add(area, "areaDesc", incident.town_zh if zh else incident.town_en)
    _add(area, "circle", _circle(incident))


def _event(incident: CapIncident, *, zh: bool) -> str:
    if zh:
        return f"群体性事件（{incident.kind_label_zh}）"
    return f"Mass incident ({incident.kind_label_en})"


def _headline(incident: CapIncident, *, zh: bool) -> str:
    level = Level(incident.level).value
    status = Status(incident.status)
    if zh:
        text = (
            f"{level}级群体性事件{incident.code}：{incident.town_zh}{incident.kind_label_zh}"
            f"约{incident.people_count}人"
        )
        return f"{text}（已结束）" if status == Status.CLOSED else text
    text = (
        f"Level {level} mass incident {incident.code}: {incident.kind_label_en} in "
        f"{incident.town_en}, about {incident.people_count} people"
    )
    return f"{text} (closed)" if status == Status.CLOSED else text


def _description(incident: CapIncident, *, zh: bool) -> str:
    level = Level(incident.level).value
    status = Status(incident.status)
    if zh:
        return (
            f"{incident.town_zh}发生{incident.kind_label_zh}，约{incident.people_count}人。"
            f"事件编号{incident.code}，事件等级{level}级，当前状态：{_STATUS_ZH[status]}。"
            "详情见事件指挥室。"
        )
    kind = incident.kind_label_en
    return (
        f"{kind[:1].upper()}{kind[1:]} in {incident.town_en}, about {incident.people_count} "
        f"people. Incident {incident.code}, level {level}, currently {_STATUS_EN[status]}. "
        "Details in the incident room."
    )


def _add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _q(tag))
    element.text = text
    return element


def _add_pair(parent: ET.Element, tag: str, name: str, value: str) -> None:
    """A CAP name/value element (`eventCode`, `parameter`): `valueName` then `value`."""
    pair = _add(parent, tag)
    _add(pair, "valueName", name)
    _add(pair, "value", value)


def _circle(incident: CapIncident) -> str:
    """CAP circle: WGS 84 `lat,lon radius` with the radius in km, e.g. `30.87,120.42 0.5`."""
    return f"{_decimal(incident.lat)},{_decimal(incident.lng)} {_decimal(incident.radius_km, 3)}"


def _decimal(value: float, places: int = 6) -> str:
    """A plain decimal (never exponent notation), at most `places` places, no trailing 0s."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _check_token(name: str, value: str) -> None:
    if not _CAP_TOKEN.match(value) or _NOT_IN_LABEL.search(value):
        raise ValueError(f"{name} must be non-empty, without spaces, commas, < or &: {value!r}")


def _check_reference(reference: str) -> None:
    """A reference is `sender,identifier,sent`, each part as CAP requires."""
    parts = reference.split(",")
    if len(parts) != 3 or not _CAP_DATETIME.match(parts[2]):
        raise ValueError(f"a reference is 'sender,identifier,sent', not {reference!r}")
    _check_token("reference sender", parts[0])
    _check_token("reference identifier", parts[1])


def _check_label(name: str, value: str, *, personal_data: bool) -> None:
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    if _NOT_IN_LABEL.search(value):
        raise ValueError(f"{name} holds a control or non-XML character: {value!r}")
    if personal_data and contains_personal_data(value):
        raise ValueError(f"{name} looks like it holds a phone or ID number; CAP texts must not")


def _check_web(web: str) -> None:
    parts = urlsplit(web)
    if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", web):
        raise ValueError(f"web must be an absolute http(s) URL, not {web!r}")
    if _NOT_IN_LABEL.search(web):
        raise ValueError(f"web holds a control or non-XML character: {web!r}")
