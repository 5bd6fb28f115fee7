"""Reading a field officer's reply SMS: only an acknowledgement word acknowledges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.domain.replies import ACK_WORDS, Reply, parse_reply


@pytest.mark.parametrize(
    "text",
    [
        "1",
        " 1 ",
        "1\n",
        "１",
        "收到",
        "收到！",
        "收到!",
        "收到~",
        "已收到。",
        "已收到",
        "OK",
        "ok",
        "Ok.",
        "ＯＫ",
        "Okay",
        "OKAY!",
        "好的",
        "好的，",
        "好",
        "到",
        "确认",
        "Y",
        "y",
        "yes",
        "YES",
    ],
)
def test_an_acknowledgement_word_acknowledges(text: str) -> None:
    reply = parse_reply(text)

    assert reply == Reply(acknowledges=True, reference=None, text=text.strip())


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("1 M123", "M123"),
        ("M123 1", "M123"),
        ("收到M45", "M45"),
        ("收到 M45", "M45"),
        ("M45收到", "M45"),
        ("m7 ok", "M7"),
        ("OK m7", "M7"),
        ("Ｍ12 收到", "M12"),
        ("1 M007", "M7"),
        ("确认，M1234567。", "M1234567"),
        ("M999999999999 1", "M999999999999"),
    ],
)
def test_an_acknowledgement_with_the_reference_names_the_message(text: str, reference: str) -> None:
    reply = parse_reply(text)

    assert reply.acknowledges
    assert reply.reference == reference
    assert reply.text == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "现场有200人",
        "2",
        "0",
        "11",
        "不收到",
        "未收到",
        "收到了吗",
        "收到，马上到",
        "ok but need help",
        "no",
        "N",
        "确认不了",
        "好的谢谢",
        "1 2",
    ],
)
def test_anything_else_does_not_acknowledge(text: str) -> None:
    reply = parse_reply(text)

    assert not reply.acknowledges
    assert reply.reference is None
    assert reply.text == text.strip()


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("M123 现场有200人", "M123"),
        ("现场有200人 M45", "M45"),
        ("m7 需要支援", "M7"),
    ],
)
def test_a_reference_without_an_acknowledgement_is_kept_but_does_not_acknowledge(
    text: str, reference: str
) -> None:
    reply = parse_reply(text)

    assert not reply.acknowledges
    assert reply.reference == reference


@pytest.mark.parametrize(
    "text",
    [
        "ROOM12 ok",  # the M ends a word
        "M1234567890123 ok",  # thirteen digits is no reference of ours
        "M ok",
        "1",
    ],
)
def test_things_that_are_not_a_reference_give_none(text: str) -> None:
    assert parse_reply(text).reference is None


def test_the_kept_text_is_trimmed_and_at_most_500_chars() -> None:
    long = "  " + "现场情况" * 200 + "  "

    reply = parse_reply(long)

    assert not reply.acknowledges
    assert reply.text == long.strip()[:500]
    assert len(reply.text) == 500


def test_the_kept_text_is_as_written_not_normalised() -> None:
    assert parse_reply(" １ ").text == "１"


PUNCTUATION = st.text(alphabet=" \t\n.,!?;:，。！？；：、~～", max_size=4)


@given(PUNCTUATION, st.sampled_from(sorted(ACK_WORDS)), PUNCTUATION)
def test_any_ack_word_in_any_punctuation_acknowledges(before: str, word: str, after: str) -> None:
    assert parse_reply(before + word + after).acknowledges
    assert parse_reply(before + word.upper() + after).acknowledges


@given(
    st.sampled_from(sorted(ACK_WORDS)),
    st.integers(0, 10**12 - 1),
    st.sampled_from(["M", "m", "Ｍ"]),
    st.booleans(),
)
def test_any_ack_word_with_any_reference_acknowledges_and_names_it(
    word: str, number: int, letter: str, reference_first: bool
) -> None:
    reference = f"{letter}{number}"
    text = f"{reference} {word}" if reference_first else f"{word} {reference}"

    reply = parse_reply(text)

    assert reply.acknowledges
    assert reply.reference == f"M{number}"


@given(st.text(max_size=700))
def test_any_text_is_kept_trimmed_and_bounded(text: str) -> None:
    reply = parse_reply(text)

    assert reply.text == text.strip()[:500]
    assert len(reply.text) <= 500
    assert reply.reference is None or reply.reference.startswith("M")
