"""SMS segment counting: what a text costs on the network, and the merchant's cap."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from recobro.channels import sms

BASIC = sorted(sms.GSM7_BASIC)
EXTENSION = sorted(sms.GSM7_EXTENSION)
gsm7_text = st.text(alphabet=st.sampled_from(BASIC + EXTENSION), max_size=700)
basic_text = st.text(alphabet=st.sampled_from(BASIC), max_size=700)
non_gsm = st.characters(
    blacklist_characters="".join(BASIC + EXTENSION) + "\x1b", blacklist_categories=["Cs"], min_codepoint=1
)


def reference_gsm7_segments(text: str) -> int:
    """Independent of the module: walk the septet stream, starting a new 153-septet part when the
    next character (1 or 2 septets) would not fit."""
    septets = [2 if c in "\f^{}\\[~]|€" else 1 for c in text]
    if sum(septets) <= 160:
        return 1 if text else 0
    parts, room = 1, 153
    for cost in septets:
        if cost > room:
            parts, room = parts + 1, 153
        room -= cost
    return parts


@given(gsm7_text)
def test_any_gsm7_text_counts_like_the_reference(text):
    counted = sms.count(text)
    assert counted.encoding == "GSM-7"
    assert counted.segments == reference_gsm7_segments(text)


@given(basic_text)
def test_basic_alphabet_follows_the_160_153_rule(text):
    n = len(text)
    expected = 0 if n == 0 else 1 if n <= 160 else math.ceil(n / 153)
    assert sms.count(text).segments == expected
    assert sms.count(text).units == n


@given(gsm7_text, non_gsm, st.integers(min_value=0))
def test_one_character_outside_gsm7_switches_the_whole_text_to_ucs2(text, char, where):
    at = where % (len(text) + 1)
    mixed = text[:at] + char + text[at:]
    counted = sms.count(mixed)
    assert counted.encoding == "UCS-2"
    units = len(mixed.encode("utf-16-le")) // 2
    assert counted.units == units
    assert counted.segments >= (1 if units <= 70 else math.ceil(units / 67))


@given(st.text(min_size=1, max_size=600).filter(lambda t: "\x1b" not in t))
def test_parts_rebuild_the_text_and_respect_their_limits(text):
    parts = sms.split(text)
    assert "".join(parts) == text
    encoding = sms.encoding_of(text)
    limit = (153 if encoding == "GSM-7" else 67) if len(parts) > 1 else (160 if encoding == "GSM-7" else 70)
    for part in parts:
        cost = sum(
            (2 if c in sms.GSM7_EXTENSION else 1) if encoding == "GSM-7" else len(c.encode("utf-16-le")) // 2
            for c in part
        )
        assert cost <= limit


def test_segment_boundaries():
    assert sms.count("").segments == 0
    assert sms.count("a" * 160).segments == 1
    assert sms.count("a" * 161).segments == 2
    assert sms.count("a" * 306).segments == 2
    assert sms.count("a" * 307).segments == 3
    assert sms.count("€" * 80).segments == 1  # 160 septets
    assert sms.count("€" * 81).segments == 2
    assert sms.count("a" * 152 + "€").segments == 1  # 154 septets still fit in one SMS
    # 152 septets then a 2-septet character: the pair moves whole into the next part.
    assert sms.split("a" * 152 + "€" + "a" * 10) == ["a" * 152, "€" + "a" * 10]
    assert sms.count("á" * 70).segments == 1
    assert sms.count("á" * 71).segments == 2
    assert sms.count("á" * 134).segments == 2
    assert sms.count("á" * 135).segments == 3
    assert sms.count("😀" * 35).segments == 1  # 70 UTF-16 units
    assert sms.count("😀" * 36).segments == 2
    assert sms.split("a" * 66 + "😀" + "a" * 10)[0] == "a" * 66  # a surrogate pair is never split


def test_spanish_and_portuguese_letters_that_gsm7_lacks():
    assert sms.encoding_of("Responde BAJA para no recibir más SMS") == "UCS-2"
    assert sms.encoding_of("Año, señor, über, é") == "GSM-7"
    assert sms.to_gsm7("más información, não, ação") == "mas informacion, nao, aÇao"


def test_fit_keeps_the_text_when_it_fits():
    fitted = sms.fit("Hola Lucía, debes 25,00 €", max_segments=1)
    assert isinstance(fitted, sms.Fitted)
    assert fitted.text == "Hola Lucía, debes 25,00 €"
    assert fitted.segments.encoding == "UCS-2"


def test_fit_drops_accents_only_when_that_makes_it_fit():
    text = "á" + "a" * 100  # 101 UCS-2 units = 2 parts; 101 septets = 1 part
    fitted = sms.fit(text, max_segments=1)
    assert isinstance(fitted, sms.Fitted)
    assert fitted.text == "a" * 101 and fitted.segments.segments == 1


def test_fit_refuses_with_a_reason_over_the_cap():
    refused = sms.fit("a" * 500, max_segments=3)
    assert isinstance(refused, sms.Refused)
    assert refused.reason == "sms_too_long"
    assert "4 GSM-7 segments" in refused.detail and "cap 3" in refused.detail
    emoji = sms.fit("😀" * 200, max_segments=3)  # no GSM-7 spelling exists
    assert isinstance(emoji, sms.Refused)
