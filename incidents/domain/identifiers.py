"""Checks and masks for the identifiers that arrive at intake.

- unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters, mod-31 check;
- resident identity number (居民身份证号码), GB 11643-1999: 18 characters, ISO 7064 mod 11-2
  check, with a valid birth date;
- phone numbers: mainland mobile or landline.
"""

from __future__ import annotations

import re
from datetime import date

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
