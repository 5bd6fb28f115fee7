"""Identifier checks at intake: credit codes, resident ID numbers, phones, and their masks."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidents.domain.identifiers import (
    CREDIT_ALPHABET,
    credit_code_check_char,
    id_number_check_char,
    is_valid_credit_code,
    is_valid_id_number,
    is_valid_phone,
    mask_id_number,
    mask_phone,
    normalize_phone,
)
from tests.factories import credit_code, id_number

VALID_CREDIT_CODE = "91350100M000100Y43"


def with_id_check(body: str) -> str:
    return body + id_number_check_char(body)


def with_credit_check(body: str) -> str:
    return body + credit_code_check_char(body)


# --- unified social credit code (GB 32100-2015) -------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [VALID_CREDIT_CODE, "91110000100006485K", credit_code(1), credit_code(9999999)],
)
def test_valid_credit_codes_are_accepted(code: str) -> None:
    assert is_valid_credit_code(code)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4A",
        "91110000100006485J",
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "",
        "91350100m000100Y43",  # lower case
        "91350100M000100Y4 ",
    ],
)
def test_credit_code_with_wrong_check_or_length_is_refused(code: str) -> None:
    assert not is_valid_credit_code(code)


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_credit_code_with_a_letter_outside_the_alphabet_is_refused(letter: str) -> None:
    # Even when the check position holds the letter, or the body does.
    assert letter not in CREDIT_ALPHABET
    assert not is_valid_credit_code(VALID_CREDIT_CODE[:17] + letter)
    assert not is_valid_credit_code(VALID_CREDIT_CODE[:8] + letter + VALID_CREDIT_CODE[9:])


def test_credit_alphabet_has_31_characters() -> None:
    assert len(CREDIT_ALPHABET) == len(set(CREDIT_ALPHABET)) == 31


credit_bodies = st.text(alphabet=CREDIT_ALPHABET, min_size=17, max_size=17)


@given(body=credit_bodies)
def test_any_body_with_its_computed_check_char_is_a_valid_credit_code(body: str) -> None:
    assert is_valid_credit_code(with_credit_check(body))


@given(
    body=credit_bodies,
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from(CREDIT_ALPHABET + "IOZSVa- "),
)
def test_changing_any_one_character_makes_a_credit_code_invalid(
    body: str, position: int, replacement: str
) -> None:
    code = with_credit_check(body)
    changed = code[:position] + replacement + code[position + 1 :]
    if changed != code:
        assert not is_valid_credit_code(changed)


# --- resident identity number (GB 11643-1999) ----------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # the X check digit
        "330503198503121234",
        id_number(),
        id_number(birth="20000229"),  # a leap day
        with_id_check("44030420241231999"),
    ],
)
def test_valid_id_numbers_are_accepted(number: str) -> None:
    assert is_valid_id_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002x",  # a lower-case x is not the check character
        "330503198503121235",
        "33050319850312123",  # 17 characters
        "3305031985031212345",  # 19 characters
        "",
        "33050319850312123X",  # X where a digit is due
        "3305031985O3121234",  # letter O in the body
    ],
)
def test_id_number_with_bad_checksum_or_shape_is_refused(number: str) -> None:
    assert not is_valid_id_number(number)


@pytest.mark.parametrize(
    "birth",
    ["19490231", "19850001", "19851301", "19850100", "19000229", "20230229", "00000101"],
)
def test_id_number_with_an_impossible_birth_date_is_refused(birth: str) -> None:
    # The check digit is right: only the date is wrong.
    assert not is_valid_id_number(with_id_check(f"330503{birth}123"))


id_bodies = st.builds(
    lambda region, birth, seq: f"{region:06d}{birth:%Y%m%d}{seq:03d}",
    st.integers(min_value=110000, max_value=659999),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(min_value=0, max_value=999),
)


@given(body=id_bodies)
def test_any_id_body_with_a_real_date_and_its_check_digit_is_valid(body: str) -> None:
    assert is_valid_id_number(with_id_check(body))


@given(
    body=id_bodies,
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from("0123456789X"),
)
def test_changing_any_one_digit_makes_an_id_number_invalid(
    body: str, position: int, replacement: str
) -> None:
    number = with_id_check(body)
    changed = number[:position] + replacement + number[position + 1 :]
    if changed != number:
        assert not is_valid_id_number(changed)


# --- phones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "13812345678",
        "15957212345",
        "19912345678",
        "0572-2123456",  # Huzhou, 7 digits
        "05722123456",
        "010-12345678",  # Beijing, 8 digits
        "02112345678",
    ],
)
def test_mainland_mobile_and_landline_numbers_are_valid(phone: str) -> None:
    assert is_valid_phone(phone)


@pytest.mark.parametrize(
    "phone",
    [
        "",
        "garbage",
        "12345",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "12812345678",  # no mobile prefix starts 12
        "23812345678",
        "+8613812345678",  # must be normalised first
        "138 1234 5678",
        "0572-21234",  # too short after the area code
        "572-2123456",  # area code without the 0
        "1381234567a",
    ],
)
def test_malformed_phone_numbers_are_refused(phone: str) -> None:
    assert not is_valid_phone(phone)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("+8613812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("(0572)2123456", "05722123456"),
        ("0572-2123456", "0572-2123456"),
        ("13812345678", "13812345678"),
    ],
)
def test_normalize_phone_drops_spaces_brackets_and_the_country_code(raw: str, normal: str) -> None:
    assert normalize_phone(raw) == normal
    assert is_valid_phone(normalize_phone(raw))


def test_normalize_phone_keeps_garbage_invalid() -> None:
    assert not is_valid_phone(normalize_phone("+86 call me"))


# --- masks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("0572-2123456", "057*****3456"),
        ("01012345678", "010****5678"),
        ("12345678", "123*5678"),
        ("1234567", "*******"),
        ("123", "***"),
        ("", ""),
    ],
)
def test_mask_phone_keeps_the_first_three_and_last_four(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
    assert len(mask_phone(phone)) == len(phone)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("330503198503121234", "330503********1234"),
        ("11010519491231002X", "110105********002X"),
        ("1234567890", "**********"),
        ("", ""),
    ],
)
def test_mask_id_number_keeps_region_and_last_four(number: str, masked: str) -> None:
    assert mask_id_number(number) == masked


@given(st.text(alphabet="0123456789X", max_size=20))
def test_masks_never_reveal_the_birth_date(number: str) -> None:
    masked = mask_id_number(number)
    assert len(masked) == len(number)
    assert set(masked[6:-4]) <= {"*"}
