"""SMS texts: named templates, phone numbers in E.164, segment counting, personal-data guard.

One message definition serves every provider: a template name with parameters. Twilio gets
the rendered body; Alibaba Cloud, which sends only pre-approved templates, gets the name's
template code and the same parameters. No template has a parameter for a person's name,
phone or ID number, and every parameter value is checked for anything that looks like one:
an SMS carries a case or incident code and a link, nothing else about a complainant.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from incidents.domain.identifiers import is_valid_id_number

# Two concatenated segments. A text with any character outside GSM 03.38 is sent as UCS-2:
# 70 UTF-16 units in a single segment, 67 per segment once split (the rest is the header).
MAX_SEGMENTS = 2
UCS2_SINGLE, UCS2_PART = 70, 67
GSM_SINGLE, GSM_PART = 160, 153
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")

PARAM_MAX_CHARS = 35  # Alibaba Cloud's limit for one template variable
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)")
_LANDLINE_IN_TEXT = re.compile(r"(?<!\d)0\d{2,3}[\s-]?\d{7,8}(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# The same numbers once separators between digits are squeezed out ("138.0013.8000",
# "(0572) 1234567", "0086 138…"): checked as well, since merging can also hide a number.
_SEPARATORS = re.compile(r"(?<=\d)[\s\-.()]+(?=\d)")
_MOBILE_SQUEEZED = re.compile(r"(?<!\d)(?:0086|86)?1[3-9]\d{9}(?!\d)")
_LANDLINE_SQUEEZED = re.compile(r"(?<!\d)0\d{9,11}(?!\d)")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_CN_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")


class MessageError(ValueError):
    """A message that may not be sent as asked (unknown template, bad parameter, too long)."""


@dataclass(frozen=True)
class Template:
    name: str
    text: str  # str.format fields, one per parameter
    params: tuple[str, ...]


# The prefix in 【】 is the sender's signature Chinese carriers require; Alibaba Cloud adds
# its own from the approved sign name, so its templates hold only the text after it.
SIGNATURE = "【欠薪联合指挥】"
TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "incident_opened",
            "{level}级群体性事件{code}：{town}{kind}约{people}人，"
            "请立即响应，回复1确认。{link} {ref}",
            ("level", "code", "town", "kind", "people", "link", "ref"),
        ),
        Template(
            "incident_level_raised",
            "事件{code}升为{level}级：{town}{kind}约{people}人，请回复1确认。{link} {ref}",
            ("level", "code", "town", "kind", "people", "link", "ref"),
        ),
        Template(
            "incident_escalated",
            "事件{code}({level}级){unit}预警{minutes}分钟未获确认，"
            "转您处置，回复1确认。{link} {ref}",
            ("code", "level", "unit", "minutes", "link", "ref"),
        ),
        Template(
            "clock_overdue",
            "案件{code}的{clock}已超期，请立即处理，回复1确认。{link} {ref}",
            ("code", "clock", "link", "ref"),
        ),
        Template(
            "clock_escalated",
            "案件{code}的{clock}超期预警{minutes}分钟未获确认，转您督办，回复1确认。{link} {ref}",
            ("code", "clock", "minutes", "link", "ref"),
        ),
        Template(
            "step_opened",
            "事件{code}({level}级)预案任务：{step}，请于{due}前完成。{link} {ref}",
            ("code", "level", "step", "due", "link", "ref"),
        ),
        Template(
            "step_late",
            "事件{code}预案任务“{step}”应于{due}前完成，已超时，请立即落实，回复1确认。"
            "{link} {ref}",
            ("code", "step", "due", "link", "ref"),
        ),
        Template(
            "step_escalated",
            "事件{code}预案任务“{step}”超时预警{minutes}分钟未获确认，转您督办，回复1确认。"
            "{link} {ref}",
            ("code", "step", "minutes", "link", "ref"),
        ),
        Template(
            "warning_raised",
            "{level}预警{code}：{subject}存在欠薪隐患，请于{due}前介入核查，回复1确认。"
            "{link} {ref}",
            ("level", "code", "subject", "due", "link", "ref"),
        ),
        Template(
            "warning_overdue",
            "{level}预警{code}应于{due}前介入，已超时，请立即督办，回复1确认。{link} {ref}",
            ("level", "code", "due", "link", "ref"),
        ),
        Template(
            "warning_escalated",
            "{level}预警{code}超时{minutes}分钟未获确认，转您督办，回复1确认。{link} {ref}",
            ("level", "code", "minutes", "link", "ref"),
        ),
        Template(
            "zero_report_missing",
            "{unit}{day}零报告未按时报送，请督促报送，回复1确认。{link} {ref}",
            ("unit", "day", "link", "ref"),
        ),
    )
}


def contains_personal_data(text: str) -> bool:
    """Whether `text` holds something that looks like a phone or resident ID number.

    Errs towards yes: a refused message is reworded, a leaked number cannot be recalled.
    """
    text = unicodedata.normalize("NFKC", text)
    squeezed = _SEPARATORS.sub("", text)
    for candidate in (text, squeezed):
        if _MOBILE_IN_TEXT.search(candidate) or _LANDLINE_IN_TEXT.search(candidate):
            return True
        if any(is_valid_id_number(m.group(0).upper()) for m in _ID_IN_TEXT.finditer(candidate)):
            return True
    return bool(_MOBILE_SQUEEZED.search(squeezed) or _LANDLINE_SQUEEZED.search(squeezed))


def render(name: str, params: dict[str, str]) -> str:
    """The body of template `name` with `params`, checked to fit and to carry no personal data.

    Raises `MessageError` for an unknown template, missing or extra parameters, a value that
    is too long or looks like personal data, or a body over two segments.
    """
    template = TEMPLATES.get(name)
    if template is None:
        raise MessageError(f"unknown SMS template {name!r}")
    if set(params) != set(template.params):
        raise MessageError(
            f"template {name!r} takes {sorted(template.params)}, got {sorted(params)}"
        )
    for key, value in params.items():
        if key != "link" and len(value) > PARAM_MAX_CHARS:
            raise MessageError(f"parameter {key!r} is longer than {PARAM_MAX_CHARS} characters")
        if key != "link" and contains_personal_data(value):
            raise MessageError(f"parameter {key!r} looks like a phone or ID number")
    # Parameters side by side in a template could spell a number between them.
    if contains_personal_data(template.text.format(**{**params, "link": " ", "ref": " "})):
        raise MessageError("the message would contain something like a phone or ID number")
    body = SIGNATURE + template.text.format(**params)
    if segments(body) > MAX_SEGMENTS:
        raise MessageError(f"the message would take {segments(body)} SMS segments")
    return body


def segments(text: str) -> int:
    """How many SMS segments `text` takes (GSM 03.38 when it can, else UCS-2)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        single, part = GSM_SINGLE, GSM_PART
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = UCS2_SINGLE, UCS2_PART
    if units <= single:
        return 1
    return -(-units // part)


def to_e164(phone: str, *, country: str = "86") -> str:
    """A mobile number in E.164 ("+8613800138000"), from how people write them.

    Accepts spaces, dashes, brackets, a leading 00 or +, and bare mainland mobiles.
    Raises `MessageError` for anything that cannot take an SMS (landlines included).
    """
    digits = re.sub(r"[\s\-().]", "", unicodedata.normalize("NFKC", phone))
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif not digits.startswith("+"):
        digits = f"+{country}{digits}"
    if not _E164.match(digits):
        raise MessageError(f"not a phone number: {phone!r}")
    if digits.startswith("+86") and not _CN_MOBILE.match(digits):
        raise MessageError(f"not a mainland mobile number: {phone!r}")
    return digits


def phone_masked(e164: str) -> str:
    """A phone number safe to show and log: country code, first three and last four digits."""
    if len(e164) < 9:
        return "***"
    local = e164[3:] if e164.startswith("+86") else e164[1:]
    return f"{local[:3]}****{local[-4:]}"
