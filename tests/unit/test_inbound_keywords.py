"""Inbound keywords: case, accents, spacing and punctuation never change what a reply means."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro.errors import ValidationFailed
from recobro.inbound import keywords, requests

EXPECTED = {
    "STOP": "opt_out",
    "BAJA": "opt_out",
    "PARAR": "opt_out",
    "SAIR": "opt_out",
    "SALDO": "balance",
    "BALANCE": "balance",
    "AYUDA": "help",
    "HELP": "help",
    "AJUDA": "help",
}
ACCENTS = ["\u0301", "\u0300", "\u0302", "\u0303", "\u0308"]  # combining acute, grave, circumflex, tilde, diaeresis


@st.composite
def disguised(draw, word: str) -> str:
    """The keyword as a person might type it: any case, accents on any letter, spaces and punctuation around."""
    letters = []
    for letter in word:
        letter = letter.upper() if draw(st.booleans()) else letter.lower()
        if draw(st.booleans()):
            letter = unicodedata.normalize("NFC", letter + draw(st.sampled_from(ACCENTS)))
        letters.append(letter)
    before = draw(st.text(alphabet=" \t\n¡¿\u00a0", max_size=3))
    after = draw(st.text(alphabet=" \t\n.!?¡¿\u00a0", max_size=3))
    return before + "".join(letters) + after


@given(st.data())
def test_every_keyword_is_recognised_whatever_case_accents_and_spacing(data):
    word = data.draw(st.sampled_from(sorted(EXPECTED)))
    typed = data.draw(disguised(word))
    assert keywords.intent_of(typed) == EXPECTED[word], typed


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("Baja", "opt_out"),
        (" stop. ", "opt_out"),
        ("¡Ayuda!", "help"),
        ("sáldo", "balance"),
        ("SAÍR", "opt_out"),
        ("Ａｙｕｄａ", "help"),  # full-width letters
        ("no puedo pagar, ayuda", "other"),
        ("stop it", "other"),
        ("bajas", "other"),
        ("", "other"),
        ("Ya pagué ayer", "other"),
    ],
)
def test_only_a_whole_message_is_a_keyword(typed, intent):
    assert keywords.intent_of(typed) == intent


@given(st.text(max_size=50))
def test_normalising_is_idempotent_and_plain(text):
    once = keywords.normalise(text)
    assert keywords.normalise(once) == once
    assert once == once.strip() and "  " not in once


# ---------------------------------------------------------------- request shapes and signatures


def test_the_sms_json_shape_of_aws_end_user_messaging():
    body = json.dumps({"originationNumber": "+34600111222", "messageBody": "BAJA", "inboundMessageId": "m-1"})
    message = requests.sms_message(body, "application/json")
    assert message == requests.InboundMessage("sms", "+34600111222", "BAJA", "m-1")


def test_the_twilio_like_form():
    message = requests.sms_message("From=%2B34600111222&Body=Saldo&MessageSid=SM1", "application/x-www-form-urlencoded")
    assert message == requests.InboundMessage("sms", "+34600111222", "Saldo", "SM1")


def test_an_sms_without_sender_is_refused():
    with pytest.raises(ValidationFailed):
        requests.sms_message(json.dumps({"messageBody": "hola"}), "application/json")


def _whatsapp(*messages, statuses=()):
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "WABA",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "34900000000", "phone_number_id": "1"},
                                "messages": list(messages),
                                "statuses": list(statuses),
                            },
                        }
                    ],
                }
            ],
        }
    )


def test_whatsapp_texts_buttons_and_media_are_read_statuses_are_not():
    body = _whatsapp(
        {"from": "34600111222", "id": "wamid.1", "type": "text", "text": {"body": "Ayuda"}},
        {"from": "34600111222", "id": "wamid.2", "type": "button", "button": {"text": "BAJA", "payload": "x"}},
        {"from": "34600111222", "id": "wamid.3", "type": "image", "image": {"id": "img"}},
        statuses=[{"id": "wamid.0", "status": "read"}],
    )
    found = requests.whatsapp_messages(body)
    read = [(m.text, m.provider_id) for m in found]
    assert read == [("Ayuda", "wamid.1"), ("BAJA", "wamid.2"), ("[image]", "wamid.3")]
    assert {m.channel for m in found} == {"whatsapp"}


def test_signatures_must_match_the_exact_body():
    body = _whatsapp().encode()
    good = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    requests.check_signature("app-secret", body, good, "X-Hub-Signature-256")
    for header in (None, "", good.replace("sha256=", "sha1="), "sha256=" + "0" * 64):
        with pytest.raises(requests.InvalidSignature):
            requests.check_signature("app-secret", body, header, "X-Hub-Signature-256")
    with pytest.raises(requests.InvalidSignature):
        requests.check_signature("app-secret", body + b" ", good, "X-Hub-Signature-256")


def test_the_whatsapp_verification_handshake(monkeypatch):
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "verify-me")
    requests.reset()
    try:
        ok = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
        assert requests.verification_challenge(ok) == "1158201444"
        assert requests.verification_challenge({**ok, "hub.verify_token": "wrong"}) is None
        assert requests.verification_challenge({**ok, "hub.mode": "unsubscribe"}) is None
    finally:
        requests.reset()
