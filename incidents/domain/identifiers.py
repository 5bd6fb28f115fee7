"""Checks and masks for the identifiers that arrive at intake.

- unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters, mod-31 check;
- resident identity number (居民身份证号码), GB 11643-1999: 18 characters, ISO 7064 mod 11-2
  check, with a valid birth date;
- phone numbers: mainland mobile or landline.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    if len(code) != 18 or any(c not in CREDIT_ALPHABET for c in code):
        return False
    return credit_code_check_char(code[:17]) == code[17]


def id_number_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def is_valid_id_number(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return id_number_check_char(number[:17]) == number[17]


COUNTRY_PREFIX_RE = re.compile(r"^(?:\+86|0086)-?")


def normalize_phone(phone: str) -> str:
    """Drop spaces, brackets and the country prefix (+86, 0086); landline dashes stay."""
    return COUNTRY_PREFIX_RE.sub("", re.sub(r"[\s()]", "", phone))


def is_valid_phone(phone: str) -> bool:
    return bool(MOBILE_RE.match(phone) or LANDLINE_RE.match(phone))


def mask_phone(phone: str) -> str:
    """138****5678: the first three and last four digits stay."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def mask_id_number(number: str) -> str:
    """330503********1234: region code and last four stay."""
    if len(number) <= 10:
        return "*" * len(number)
    return f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}"


# Numbers inside free text (a chat line, a reason, a complainant's description). A mobile
# may be written with +86 and spaces or dashes between its groups ("139 1234 5678"). Digits
# inside a run of letters and digits are a code (a message id, a fingerprint), not a number.
_MOBILE_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?![0-9A-Za-z])"
)
_LANDLINE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])0\d{2,3}[\s-]?\d{7,8}(?![0-9A-Za-z])")
# Any 18 characters shaped like an identity number, whether or not its check digit holds:
# a mistyped number is still someone's. Letters around it mean a code, not an ID number.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def mask_numbers_in_text(text: str) -> str:
    """`text` with every phone and ID number in it masked the way `mask_phone` and
    `mask_id_number` mask them (separators and the country prefix dropped)."""
    if not text or not any(c.isdigit() for c in text):
        return text
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _MOBILE_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group(0))[-11:]), text)
    return _LANDLINE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)


def mask_numbers_in(value: Any) -> Any:
    """`value` (a JSON-like payload) with `mask_numbers_in_text` applied to every string
    in it, keys left alone."""
    if isinstance(value, str):
        return mask_numbers_in_text(value)
    if isinstance(value, dict):
        return {k: mask_numbers_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_numbers_in(v) for v in value]
    return value
