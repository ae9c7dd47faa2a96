"""The merchant API's template operations: request and response models, listing and previews.

A preview renders a template (saved, built in, or a draft in the request) with sample values in
every language it has: what a debtor would read, and for SMS how many parts it takes against the
merchant's cap. Saving an SMS that does not fit with sample values is allowed, with a warning: a
send that does not fit is refused then (sms_too_long), never cut.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from recobro import clock, config
from recobro.channels import email, sms, texts
from recobro.channels import message_templates as templates
from recobro.errors import ValidationFailed
from recobro.storage.models import Merchant
from recobro.strategies.schema import CHANNELS

Language = Literal["es", "en", "pt-BR"]
Channel = Literal["email", "sms", "whatsapp"]
Source = Annotated[StrictStr, Field(max_length=texts.MAX_SOURCE)]
Subject = Annotated[StrictStr, Field(max_length=templates.MAX_SUBJECT)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- requests


class TemplateIn(_In):
    texts: dict[Language, Source] = Field(
        min_length=1,
        description="The text per language (es, en, pt-BR; at least one), in Jinja2 with only the documented "
        "variables. SMS and WhatsApp texts must use {{ payment_url }} and {{ opt_out_text }}; an email body "
        "{{ payment_url }} (its unsubscribe link is added by us). In an email, a blank line starts a paragraph.",
    )
    subjects: dict[Language, Subject] | None = Field(
        None, description="Email only: the subject per language, one for every language with a text."
    )


class PreviewIn(_In):
    texts: dict[Language, Source] | None = Field(
        None, description="Preview this draft instead of the saved template (nothing is saved)."
    )
    subjects: dict[Language, Subject] | None = Field(None, description="The draft's subjects (email).")


# ---------------------------------------------------------------- responses


class TemplateSummary(_Out):
    object: Literal["message_template"]
    channel: Channel
    name: str
    builtin: bool = Field(description="Ours: every merchant has it, nobody can change it.")
    languages: list[str]
    version: int | None
    updated_at: str | None


class TemplateOut(TemplateSummary):
    texts: dict[str, str] = Field(description="Empty for built-in emails, which are full layouts: preview them.")
    subjects: dict[str, str] | None
    variables_used: list[str]
    created_at: str | None
    warnings: list[str] = Field(default_factory=list, description="On PUT: saved, but worth a look.")


class VariableOut(_Out):
    name: str
    description: str


class TemplateList(_Out):
    object: Literal["list"]
    data: list[TemplateSummary]
    variables: list[VariableOut] = Field(description="What a template may use: every value is ready-formatted text.")
    required: dict[str, list[str]] = Field(description="The variables a template of each channel must use.")


class SmsParts(_Out):
    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int
    max_segments: int = Field(description="Your cap (settings.max_sms_segments).")
    fits: bool = Field(description="False: such a message is refused at send time (sms_too_long).")
    sent_without_accents: bool = Field(description="It fits only once accents are dropped, and is sent that way.")


class PreviewLanguage(_Out):
    language: str
    subject: str | None
    text: str
    html: str | None
    sms: SmsParts | None
    variables: dict[str, str] = Field(description="The sample values used.")


class PreviewOut(_Out):
    object: Literal["message_template_preview"]
    channel: Channel
    name: str
    builtin: bool
    draft: bool
    languages: list[PreviewLanguage]


# ---------------------------------------------------------------- views


def _iso(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _used(sources: list[str]) -> list[str]:
    seen: list[str] = []
    for source in sources:
        seen += [name for name in texts.variables_used(source) if name not in seen]
    return seen


def _stored_view(stored: templates.StoredTemplate) -> dict[str, Any]:
    return {
        "object": "message_template",
        "channel": stored.channel,
        "name": stored.name,
        "builtin": False,
        "languages": list(stored.texts),
        "version": stored.version,
        "updated_at": _iso(stored.updated_at),
        "texts": dict(stored.texts),
        "subjects": dict(stored.subjects) if stored.channel == "email" else None,
        "variables_used": _used([*stored.texts.values(), *stored.subjects.values()]),
        "created_at": _iso(stored.created_at),
    }


def _builtin_view(channel: str, name: str) -> dict[str, Any]:
    languages = templates.builtin_languages(channel, name)
    sources = {lang: templates.builtin_text(channel, name, lang) for lang in languages}
    shown = {lang: source for lang, source in sources.items() if source is not None}
    return {
        "object": "message_template",
        "channel": channel,
        "name": name,
        "builtin": True,
        "languages": list(languages),
        "version": None,
        "updated_at": None,
        "texts": shown,
        "subjects": None,
        "variables_used": _used(list(shown.values())),
        "created_at": None,
    }


def _summary(view: dict[str, Any]) -> dict[str, Any]:
    return {key: view[key] for key in TemplateSummary.model_fields}


def _out(model: type[BaseModel], value: dict[str, Any]) -> dict[str, Any]:
    return model.model_validate(value).model_dump(mode="json")


def _plain(values: dict[Language, str] | None) -> dict[str, str]:
    return {str(language): text for language, text in (values or {}).items()}


def _is_builtin(channel: str, name: str) -> bool:
    return channel in CHANNELS and name in templates.builtin_names(channel)


# ---------------------------------------------------------------- samples


SAMPLE_DEBTORS = {
    "es": ("Lucía Pérez", "es-ES", "EUR", "Pedido 10023"),
    "en": ("Jane Smith", "en-GB", "EUR", "Order 10023"),
    "pt-BR": ("Ana Souza", "pt-BR", "BRL", "Pedido 10023"),
}


def _sample_link(path: str, merchant_id: str, *parts: str) -> str:
    """A link as long as a real one (the length decides SMS parts), signed by nothing."""
    payload = "|".join((merchant_id, *parts)).encode()
    token = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{config.pages_base_url()}/{path}/{token}.sample-not-a-link"


def sample_variables(merchant_id: str, merchant: Merchant | None, channel: str, language: str) -> dict[str, str]:
    name, locale, currency, description = SAMPLE_DEBTORS[language]
    claim, debtor = "clm_" + "0" * 20, "dbt_" + "0" * 20
    facts = texts.MessageFacts(
        locale=locale,
        channel=channel,
        debtor_name=name,
        merchant_name=merchant.display_name if merchant else "Tienda Demo",
        amount_due=12000,
        amount_overdue=4000,
        currency=currency,
        payment_url=_sample_link("p", merchant_id, claim, "1798198518", "1", debtor),
        due_date=clock.now().date() - timedelta(days=5),
        description=description,
        support_email=merchant.support_email if merchant else "",
        support_phone=(merchant.support_phone or "") if merchant else "",
    )
    return texts.variables(facts)


def _merchant(merchant_id: str) -> Merchant | None:
    try:
        return Merchant.get(merchant_id)
    except Merchant.DoesNotExist:
        return None


def _sms_parts(text: str, cap: int) -> dict[str, Any]:
    counted = sms.count(text)
    fitted = sms.fit(text, cap)
    plain = isinstance(fitted, sms.Fitted) and fitted.text != text
    shown = fitted.segments if isinstance(fitted, sms.Fitted) else counted
    return {
        "encoding": shown.encoding,
        "units": shown.units,
        "segments": shown.segments,
        "max_segments": cap,
        "fits": isinstance(fitted, sms.Fitted),
        "sent_without_accents": plain,
    }


def _builtin_email(language: str, variables: dict[str, str]) -> tuple[str, str, str]:
    _, locale, currency, description = SAMPLE_DEBTORS[language]
    context = {
        "merchant_name": variables["merchant_name"],
        "support_email": variables["support_email"],
        "debtor_name": variables["debtor_name"],
        "description": description,
        "amount_due": 12000,
        "amount_overdue": 4000,
        "currency": currency,
        "due_date": clock.now().date() - timedelta(days=5),
        "payment_url": variables["payment_url"],
        "unsubscribe_url": variables["unsubscribe_url"],
    }
    return email.render_reminder(locale, context)


def _render_language(
    merchant_id: str,
    merchant: Merchant | None,
    resolved: templates.ResolvedTemplate,
) -> dict[str, Any]:
    channel, language = resolved.channel, resolved.language
    variables = sample_variables(merchant_id, merchant, channel, language)
    subject = html = None
    if channel == "email":
        variables["unsubscribe_url"] = _sample_link("u", merchant_id, "dbt_" + "0" * 20, "email")
        if resolved.builtin:
            subject, text, html = _builtin_email(language, variables)
        else:
            subject, text, html = templates.render_email(resolved, variables)
    else:
        text = templates.render_text(resolved, variables)
    cap = int(merchant.max_sms_segments) if merchant else sms.DEFAULT_MAX_SEGMENTS
    return {
        "language": language,
        "subject": subject,
        "text": text,
        "html": html,
        "sms": _sms_parts(text, cap) if channel == "sms" else None,
        "variables": variables,
    }


def _preview(
    merchant_id: str,
    channel: str,
    name: str,
    builtin: bool,
    sources: dict[str, str],
    subjects: dict[str, str],
    languages: tuple[str, ...] | list[str],
    merchant: Merchant | None,
) -> list[dict[str, Any]]:
    return [
        _render_language(
            merchant_id,
            merchant,
            templates.ResolvedTemplate(
                channel,
                name,
                language,
                builtin,
                text=None if builtin else sources[language],
                subject=None if builtin else subjects.get(language),
            ),
        )
        for language in languages
    ]


def _warnings(rendered: list[dict[str, Any]]) -> list[str]:
    """SMS texts that, with sample values, take more parts than the merchant allows."""
    return [
        f"texts.{one['language']}: with sample values it takes {one['sms']['segments']} {one['sms']['encoding']} SMS, "
        f"more than your cap of {one['sms']['max_segments']}: such a message is refused when sent (sms_too_long)."
        for one in rendered
        if one["sms"] is not None and not one["sms"]["fits"]
    ]


# ---------------------------------------------------------------- operations


def put_template(merchant_id: str, channel: str, name: str, body: TemplateIn) -> tuple[dict[str, Any], bool]:
    """(the saved template, whether it was created rather than replaced)."""
    stored, created = templates.save_template(merchant_id, channel, name, _plain(body.texts), _plain(body.subjects))
    view = _stored_view(stored)
    if channel == "sms":
        rendered = _preview(
            merchant_id, channel, name, False, dict(stored.texts), {}, list(stored.texts), _merchant(merchant_id)
        )
        view["warnings"] = _warnings(rendered)
    return _out(TemplateOut, view), created


def get_template(merchant_id: str, channel: str, name: str) -> dict[str, Any]:
    if _is_builtin(channel, name):
        return _out(TemplateOut, _builtin_view(channel, name))
    return _out(TemplateOut, _stored_view(templates.get_template(merchant_id, channel, name)))


def list_templates(merchant_id: str) -> dict[str, Any]:
    builtins = [_builtin_view(c, n) for c in CHANNELS for n in sorted(templates.builtin_names(c))]
    own = [_stored_view(s) for s in templates.list_templates(merchant_id)]
    return _out(
        TemplateList,
        {
            "object": "list",
            "data": [_summary(view) for view in builtins + own],
            "variables": [{"name": n, "description": d} for n, d in texts.VARIABLES.items()],
            "required": {channel: list(needed) for channel, needed in templates.REQUIRED.items()},
        },
    )


def preview_template(merchant_id: str, channel: str, name: str, body: PreviewIn) -> dict[str, Any]:
    merchant = _merchant(merchant_id)
    draft = body.texts is not None
    if body.texts is not None:
        templates.check_channel(channel)
        templates.check_name(channel, name)
        builtin, sources, subjects = False, _plain(body.texts), _plain(body.subjects)
        templates.check(channel, sources, subjects if body.subjects is not None else None)
        languages: list[str] | tuple[str, ...] = [lang for lang in templates.LANGUAGES if lang in sources]
    elif _is_builtin(channel, name):
        builtin, sources, subjects = True, {}, {}
        languages = templates.builtin_languages(channel, name)
    else:
        stored = templates.get_template(merchant_id, channel, name)
        if body.subjects is not None:
            raise ValidationFailed("A draft's subjects come with its texts.", field="texts")
        builtin, sources, subjects, languages = False, dict(stored.texts), dict(stored.subjects), list(stored.texts)
    rendered = _preview(merchant_id, channel, name, builtin, sources, subjects, languages, merchant)
    return _out(
        PreviewOut,
        {
            "object": "message_template_preview",
            "channel": channel,
            "name": name,
            "builtin": builtin,
            "draft": draft,
            "languages": rendered,
        },
    )
