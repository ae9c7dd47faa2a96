"""Merchant message templates without engines: validation, reserved names, language fallback,
built-ins resolved with no request, the per-container cache, and rendering for the sender."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from recobro.channels import message_templates as mt
from recobro.channels import texts
from recobro.errors import ValidationFailed
from recobro.strategies import cli
from recobro.strategies.parser import errors_at, parse_strategy

SMS_ES = "Hola {{ debtor_first_name }}, debes {{ amount_due }}: {{ payment_url }} {{ opt_out_text }}."
EMAIL_ES = "Hola {{ debtor_first_name }},\n\ndebes {{ amount_due }} a {{ merchant_name }}.\nPaga: {{ payment_url }}"


def _vars(channel: str, locale: str = "es-ES") -> dict[str, str]:
    facts = texts.MessageFacts(
        locale=locale,
        channel=channel,
        debtor_name="Lucía Pérez",
        merchant_name="Tienda <b>Demo</b>",
        amount_due=2500,
        currency="EUR",
        payment_url="https://pay.example/p/abc.def",
        due_date=date(2026, 10, 1),
    )
    return texts.variables(facts)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        ("Hola\n{{ debtor_first_name.__class__ }} {{ payment_url }} {{ opt_out_text }}", 2, "attribute and item"),
        ("{{ payment_url }} {{ opt_out_text }}\n\n{{ unsubscribe_url }}", 3, "unknown variable 'unsubscribe_url'"),
        ("{{ payment_url }} {{ opt_out_text }}\n{% for c in debtor_name %}{{ c }}{% endfor %}", 2, "for is not"),
        ("{{ payment_url }} {{ opt_out_text }} {{ secret }}", 1, "unknown variable 'secret'"),
    ],
)
def test_a_text_beyond_the_documented_variables_is_refused_naming_language_field_and_line(source, line, expected):
    with pytest.raises(ValidationFailed) as refused:
        mt.check("sms", {"en": SMS_ES, "pt-BR": source}, None)
    body = refused.value.body()["error"]
    assert (body["code"], body["field"], body["line"]) == ("validation_error", "texts.pt-BR", line)
    assert expected in body["message"] and body["message"].startswith(f"texts.pt-BR, line {line}: ")
    assert [e["field"] for e in body["errors"]] == ["texts.pt-BR"]


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("Hola\n{{ payment_url|trim(1) }} {{ opt_out_text }}", 2),
        ("{{ payment_url }} {{ opt_out_text }}\n\n{{ debtor_name|upper(1) }}", 3),
        ("{% if amount_due > 3 %}{{ payment_url }}{% endif %} {{ opt_out_text }}", 1),
        ("{% if support_phone|default(5, true) > 'a' %}{% endif %}{{ payment_url }} {{ opt_out_text }}", 1),
    ],
)
def test_a_text_that_would_fail_when_sent_is_refused_when_saved(source: str, line: int):
    (problem,) = mt.problems("sms", {"es": source}, None)
    assert (problem.field, problem.line) == ("texts.es", line) and problem.message.startswith("cannot be rendered")


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_sms_and_whatsapp_texts_must_carry_the_link_and_the_opt_out(channel: str):
    found = mt.problems(channel, {"es": "Hola {{ debtor_first_name }}"}, None)
    assert [(p.field, p.message) for p in found] == [
        ("texts.es", "the template must use {{ payment_url }}"),
        ("texts.es", "the template must use {{ opt_out_text }}"),
    ]


def test_an_email_needs_the_link_and_a_subject_per_language_but_not_the_opt_out_sentence():
    assert mt.problems("email", {"es": EMAIL_ES}, {"es": "Recordatorio de {{ merchant_name }}"}) == []
    found = mt.problems("email", {"es": EMAIL_ES, "en": "Hello"}, {"es": "x", "pt-BR": "{{ nope }}"})
    assert [(p.field, p.message) for p in found] == [
        ("texts.en", "the template must use {{ payment_url }}"),
        ("subjects.en", "an email needs a subject in every language it has"),
        ("subjects.pt-BR", "a subject needs a text in the same language"),
    ]
    (problem,) = mt.problems("email", {"es": EMAIL_ES}, {"es": "Hola {{ debtor.name }}"})
    assert (problem.field, problem.line) == ("subjects.es", 1)


def test_only_emails_have_subjects_and_a_template_has_a_text():
    assert [p.field for p in mt.problems("sms", {"es": SMS_ES}, {"es": "x"})] == ["subjects"]
    assert [p.field for p in mt.problems("sms", {}, None)] == ["texts"]
    assert [p.message for p in mt.problems("sms", {"es": "  "}, None)] == ["the text is empty"]


def test_built_in_names_are_reserved_on_their_channel_only():
    for channel in ("email", "sms", "whatsapp"):
        with pytest.raises(ValidationFailed, match="built-in"):
            mt.check_name(channel, "reminder")
    with pytest.raises(ValidationFailed, match="built-in"):
        mt.check_name("email", "receipt")
    assert mt.check_name("sms", "receipt") == "receipt"
    assert "receipt" not in mt.builtin_names("email")  # reserved, but not a message a step may send
    with pytest.raises(ValidationFailed) as bad:
        mt.check_name("sms", "Firm Reminder")
    assert bad.value.field == "name"


# ---------------------------------------------------------------- resolving


@pytest.mark.parametrize(
    ("available", "locale", "expected"),
    [
        (["es", "en", "pt-BR"], "pt-PT", "pt-BR"),
        (["es", "en"], "pt-BR", "en"),
        (["es", "pt-BR"], "fr-FR", "es"),
        (["pt-BR"], "es-MX", "pt-BR"),
        (["es"], "es-AR", "es"),
        ([], "es-ES", None),
    ],
)
def test_the_debtors_language_else_english_else_spanish_else_what_there_is(available, locale, expected):
    assert mt.pick_language(available, locale) == expected


@pytest.fixture
def no_dynamodb(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Counts reads instead of making them; resolving a built-in must make none."""
    reads: list[tuple[str, str, str]] = []
    mt._cache.clear()

    def read(merchant_id: str, channel: str, name: str, consistent: bool = False) -> Any:
        reads.append((merchant_id, channel, name))
        return None

    monkeypatch.setattr(mt, "_item", read)
    return reads


def test_built_ins_resolve_without_a_request(no_dynamodb: list[tuple[str, str, str]]):
    resolved = mt.resolve("m-1", "whatsapp", "reminder", "pt-PT")
    assert resolved == mt.ResolvedTemplate("whatsapp", "reminder", "pt-BR", builtin=True)
    assert mt.exists("m-1", "email", "reminder") and not mt.exists("m-1", "email", "receipt")
    assert mt.resolve("m-1", "email", "receipt", "es") is None
    assert mt.resolve("m-1", "fax", "firm", "es") is None and mt.resolve("m-1", "sms", "../x", "es") is None
    assert no_dynamodb == []
    builtins = {("sms", "reminder"), ("email", "reminder")}
    assert mt.existing("m-1", builtins) == builtins


def _stored(texts_by_language: dict[str, str], subjects: dict[str, str] | None = None) -> mt.StoredTemplate:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return mt.StoredTemplate("sms", "firm", texts_by_language, subjects or {}, 3, at, at)


def test_a_merchants_template_is_read_once_a_minute_per_container(monkeypatch: pytest.MonkeyPatch):
    reads: list[str] = []
    now = [1000.0]
    mt._cache.clear()
    item = _stored({"es": SMS_ES, "en": SMS_ES.replace("Hola", "Hi")})

    def read(merchant_id: str, channel: str, name: str, consistent: bool = False) -> object:
        reads.append(name)
        return object()

    monkeypatch.setattr(mt, "_item", read)
    monkeypatch.setattr(mt, "_stored", lambda _: item)
    monkeypatch.setattr("recobro.channels.message_templates.time", SimpleNamespace(monotonic=lambda: now[0]))

    first = mt.resolve("m-1", "sms", "firm", "fr-FR")
    assert first is not None and (first.language, first.builtin, first.version) == ("en", False, 3)
    assert first.text is not None and first.text.startswith("Hi")
    assert mt.resolve("m-1", "sms", "firm", "es-ES") is not None and mt.exists("m-1", "sms", "firm")
    assert reads == ["firm"]
    now[0] += mt.CACHE_SECONDS + 1
    mt.resolve("m-1", "sms", "firm", "es-ES")
    assert reads == ["firm", "firm"]
    mt.forget("m-1", "sms", "firm")  # what a save in this container does
    mt.resolve("m-1", "sms", "firm", "es-ES")
    assert reads == ["firm", "firm", "firm"]


# ---------------------------------------------------------------- rendering


def test_a_merchants_sms_renders_in_the_sandbox_and_a_built_in_through_its_file():
    mine = mt.ResolvedTemplate("sms", "firm", "es", builtin=False, text=SMS_ES)
    assert mt.render_text(mine, _vars("sms")) == (
        "Hola Lucía, debes 25,00 €: https://pay.example/p/abc.def Responde BAJA para no recibir más SMS."
    )
    ours = mt.render_text(mt.ResolvedTemplate("whatsapp", "reminder", "en", builtin=True), _vars("whatsapp", "en"))
    assert "Reply STOP" in ours and "https://pay.example/p/abc.def" in ours
    with pytest.raises(ValueError, match="render_email"):
        mt.render_text(mt.ResolvedTemplate("email", "firm", "es", False, EMAIL_ES, "x"), _vars("email"))


def _email(subject: str = "Recordatorio de {{ merchant_name }}") -> mt.ResolvedTemplate:
    return mt.ResolvedTemplate("email", "firm", "es", builtin=False, text=EMAIL_ES + "\n\n\nGracias", subject=subject)


def test_a_merchants_email_is_set_in_our_layout_with_the_unsubscribe_footer():
    variables = _vars("email") | {"unsubscribe_url": "https://pay.example/u/tok"}
    subject, text, html = mt.render_email(_email(), variables)
    assert subject == "Recordatorio de Tienda <b>Demo</b>"  # a header, not HTML
    assert text == (
        "Hola Lucía,\n\ndebes 25,00 € a Tienda <b>Demo</b>.\nPaga: https://pay.example/p/abc.def\n\nGracias\n\n"
        "¿No quieres recibir estos correos? Date de baja aquí: https://pay.example/u/tok\n"
    )
    assert "<p>debes 25,00 € a Tienda &lt;b&gt;Demo&lt;/b&gt;.<br>Paga: https://pay.example/p/abc.def</p>" in html
    assert "<b>Demo</b>" not in html and '<html lang="es">' in html
    assert 'href="https://pay.example/p/abc.def"' in html and "Ver opciones y pagar" in html
    assert 'href="https://pay.example/u/tok"' in html and "Darme de baja" in html


def test_an_email_cannot_reach_the_unsubscribe_link_nor_go_without_it():
    with pytest.raises(ValidationFailed, match="unknown variable 'unsubscribe_url'"):
        mt.check("email", {"es": EMAIL_ES + " {{ unsubscribe_url }}"}, {"es": "x"})
    with pytest.raises(ValueError, match="unsubscribe_url"):
        mt.render_email(_email(), _vars("email"))
    with pytest.raises(ValueError, match="built-ins"):
        mt.render_email(mt.ResolvedTemplate("email", "reminder", "es", builtin=True), _vars("email"))


def test_a_subject_is_one_line_whatever_the_text_holds():
    variables = _vars("email") | {"unsubscribe_url": "https://pay.example/u/tok"}
    subject, _, _ = mt.render_email(_email("{{ merchant_name }}\n\n  pago   pendiente"), variables)
    assert subject == "Tienda <b>Demo</b> pago pendiente"


# ---------------------------------------------------------------- strategies


STRATEGY = """\
name: firm
steps:
  - day: 3
    channel: sms
    variants:
      - {template: reminder, control: true}
      - {template: firm}
"""


def test_errors_found_after_parsing_point_at_the_template_value():
    (error,) = errors_at(STRATEGY, [(("steps", 0, "variants", 1, "template"), "missing")]).errors
    assert (error.line, error.column, error.pointer) == (7, 20, "/steps/0/variants/1/template")
    parse_strategy(STRATEGY)  # the document itself is valid


def test_the_cli_accepts_built_ins_and_says_which_names_it_could_not_check(tmp_path: Path):
    path = tmp_path / "firm.yaml"
    path.write_text(STRATEGY, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["strategy", "validate", str(path)], out=out, err=err) == 0
    assert out.getvalue().splitlines() == [
        f"{path}:7:20: not checked: sms template 'firm' is not built in; "
        "it must be one of your templates when you save",
        f"{path}: ok (1 steps; 1 template name(s) not checked)",
    ]
