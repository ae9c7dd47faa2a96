"""SMS through SNS Publish, and the segment arithmetic that decides what one text costs.

A text that fits the GSM-7 alphabet travels in 7-bit units (septets): 160 in one SMS, 153 per
part once it is split (each part carries a 6-byte header). The extension table's characters
(^ { } \\ [ ~ ] | € and form feed) take two septets each (escape + character), and a part never
ends between the two. One character outside GSM-7 turns the whole text into UCS-2: 70 UTF-16
units in one SMS, 67 per part, never splitting a surrogate pair (an emoji counts two).

A merchant caps the parts a message may take (`max_sms_segments`); `fit` keeps the text when it
fits, retries without accents when only they push it over (Spanish and Portuguese letters such
as á, í, ã, ç are not GSM-7), and otherwise refuses with a reason the caller records.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import boto3

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet (without ESC, which is how the extension table is reached).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67

DEFAULT_MAX_SEGMENTS = 3


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _unit_cost(char: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1  # a surrogate pair in UTF-16


def encoding_of(text: str) -> Encoding:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def split(text: str) -> list[str]:
    """The parts a phone network would carry, in order; one part when the text fits a single SMS."""
    encoding = encoding_of(text)
    single, part = (SINGLE_GSM7, PART_GSM7) if encoding == "GSM-7" else (SINGLE_UCS2, PART_UCS2)
    if sum(_unit_cost(c, encoding) for c in text) <= single:
        return [text] if text else []
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        cost = _unit_cost(char, encoding)
        if used + cost > part:  # an escape pair or surrogate pair never straddles two parts
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    if current:
        parts.append("".join(current))
    return parts


def count(text: str) -> SegmentCount:
    encoding = encoding_of(text)
    return SegmentCount(encoding, sum(_unit_cost(c, encoding) for c in text), len(split(text)))


# Letters a reader still recognises without their accent, for texts that only just miss the cap.
_GSM7_FALLBACK = {"ç": "Ç", "‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " "}


def to_gsm7(text: str) -> str:
    """The text with accents dropped where GSM-7 lacks the accented letter (á -> a, ã -> a)."""
    out: list[str] = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
        elif char in _GSM7_FALLBACK:
            out.append(_GSM7_FALLBACK[char])
        else:
            stripped = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
            out.append(stripped if stripped and is_gsm7(stripped) else char)
    return "".join(out)


@dataclass(frozen=True)
class Fitted:
    text: str
    segments: SegmentCount


@dataclass(frozen=True)
class Refused:
    reason: str  # "sms_too_long"
    detail: str  # for the decision log: how many parts against which cap
    segments: SegmentCount


def fit(text: str, max_segments: int = DEFAULT_MAX_SEGMENTS) -> Fitted | Refused:
    """The text to send within the merchant's cap, or why it cannot be sent as it is."""
    counted = count(text)
    if counted.segments <= max_segments:
        return Fitted(text, counted)
    plain = to_gsm7(text)
    if plain != text and is_gsm7(plain):
        plain_count = count(plain)
        if plain_count.segments <= max_segments:
            return Fitted(plain, plain_count)
    return Refused(
        "sms_too_long",
        f"{counted.segments} {counted.encoding} segments ({counted.units} units) > cap {max_segments}",
        counted,
    )


@dataclass(frozen=True)
class Sms:
    to: str  # E.164
    text: str


@functools.lru_cache(maxsize=1)
def _sns() -> Any:
    return boto3.client("sns")


def send(sms: Sms) -> str:
    """Publish one transactional SMS; returns SNS's message id. Callers fit() the text first."""
    response = _sns().publish(
        PhoneNumber=sms.to,
        Message=sms.text,
        MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
    )
    return str(response["MessageId"])
