"""What a field officer's reply SMS means."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Replies that acknowledge, after normalising width and case and dropping punctuation.
ACK_WORDS = frozenset({"1", "ok", "okay", "y", "yes", "收到", "已收到", "确认", "好", "好的", "到"})
_REFERENCE = re.compile(r"(?<![A-Za-z])M(\d{1,12})(?!\d)", re.IGNORECASE)
_PUNCTUATION = re.compile(r"[\s.,!?;:，。！？；：、~～]+")


@dataclass(frozen=True)
class Reply:
    acknowledges: bool
    reference: str | None  # "M123" when the officer quoted the message's reference
    text: str


def parse_reply(text: str) -> Reply:
    """Read an inbound SMS: "1", "收到", "OK" (optionally with the reference) acknowledge."""
    plain = unicodedata.normalize("NFKC", text).strip()
    reference = None
    found = _REFERENCE.search(plain)
    if found:
        reference = f"M{int(found.group(1))}"
        plain = (plain[: found.start()] + plain[found.end() :]).strip()
    word = _PUNCTUATION.sub("", plain).casefold()
    return Reply(acknowledges=word in ACK_WORDS, reference=reference, text=text.strip()[:500])
