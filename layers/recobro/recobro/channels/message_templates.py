"""A merchant's own message templates: stored next to its strategies, found by name, rendered safely.

A strategy step names template variants. "reminder" (any name with files under templates/<channel>/)
is ours and reserved; every other name is the merchant's, saved here. A merchant's template has a
text per language (es, en, pt-BR; at least one) and, for email, a subject per language. Texts may
use only the documented variables (recobro.channels.texts) and must carry what the channel needs:
SMS and WhatsApp the payment link and the opt-out sentence, email the payment link. An email's way
out is ours: the List-Unsubscribe header and the footer of our own layout (templates/email/
_merchant.html.j2), which a merchant's text can neither reach nor leave out.

The sender resolves a name with no request for built-ins and at most one GetItem a minute per
container for a merchant's template.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recobro import clock, config
from recobro.channels import texts
from recobro.errors import Conflict, NotFound, ValidationFailed
from recobro.rendering import SUPPORTED_LANGUAGES, catalogue, language_for, render
from recobro.storage.models import MessageTemplate
from recobro.storage.transactions import TransactionConflict, Write, commit
from recobro.strategies.schema import CHANNELS, TEMPLATE_PATTERN

KEY_PREFIX = "#template#"
LANGUAGES: tuple[str, ...] = SUPPORTED_LANGUAGES
# When a template lacks the debtor's language: English, then Spanish, then whatever it has.
FALLBACK_LANGUAGES = ("en", "es")
# What a merchant's text must use, per channel (an email's opt-out is our header and footer).
REQUIRED: dict[str, tuple[str, ...]] = {"email": ("payment_url",), "sms": texts.REQUIRED, "whatsapp": texts.REQUIRED}
# Built-in files that are not messages a strategy step may send (receipts follow a payment).
NOT_STEP_TEMPLATES = frozenset({"receipt", "reminder_offer"})  # the offer form: the sender picks it itself
MAX_SUBJECT = 200
CACHE_SECONDS = 60.0
MAX_CACHED = 2000
EMAIL_LAYOUT = "email/_merchant.html.j2"
UNSUBSCRIBE_LINE = "Do not want these emails? Unsubscribe here:"  # the built-in email's words


# ---------------------------------------------------------------- names


@functools.lru_cache(maxsize=8)
def reserved_names(channel: str) -> frozenset[str]:
    """Names with files under templates/<channel>/: ours, never a merchant's."""
    folder = config.templates_dir() / channel
    if channel not in CHANNELS or not folder.is_dir():
        return frozenset()
    return frozenset(p.name.split(".")[0] for p in folder.glob("*.j2") if not p.name.startswith("_"))


def builtin_names(channel: str) -> frozenset[str]:
    """The built-in templates a strategy step on `channel` may name."""
    return reserved_names(channel) - NOT_STEP_TEMPLATES


@functools.lru_cache(maxsize=16)
def builtin_languages(channel: str, name: str) -> tuple[str, ...]:
    """Languages a built-in comes in: a file each for SMS and WhatsApp, the catalogues for email."""
    if channel == "email":
        return LANGUAGES
    return tuple(lang for lang in LANGUAGES if (config.templates_dir() / channel / f"{name}.{lang}.txt.j2").is_file())


def builtin_text(channel: str, name: str, language: str) -> str | None:
    """A built-in SMS or WhatsApp text's source (it passes the same checks as a merchant's)."""
    if channel == "email" or language not in builtin_languages(channel, name):
        return None
    return texts.builtin_source(channel, name, language)


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValidationFailed(f"The channel is one of {', '.join(CHANNELS)}.", field="channel")
    return channel


def check_name(channel: str, name: str) -> str:
    """A name a merchant may save on `channel`: the strategy template pattern, and not a built-in."""
    if not re.fullmatch(TEMPLATE_PATTERN, name):
        raise ValidationFailed(
            "A template name is 1 to 64 lower-case letters, digits, _ and -, starting with a letter or digit.",
            field="name",
        )
    if name in reserved_names(channel):
        raise ValidationFailed(f"'{name}' is a built-in {channel} template; give yours another name.", field="name")
    return name


def _key(channel: str, name: str) -> str:
    return f"{KEY_PREFIX}{channel}#{name}"


def _could_exist(channel: str, name: str) -> bool:
    return channel in CHANNELS and re.fullmatch(TEMPLATE_PATTERN, name) is not None


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class Problem:
    field: str  # texts.es, subjects.pt-BR, texts
    line: int | None
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"field": self.field, "line": self.line, "message": self.message}


def problems(channel: str, texts_by_language: Mapping[str, str], subjects: Mapping[str, str] | None) -> list[Problem]:
    """Everything wrong with a template's texts and subjects; an empty list means it may be saved."""
    found: list[Problem] = []
    if not texts_by_language:
        found.append(Problem("texts", None, f"give a text in at least one language ({', '.join(LANGUAGES)})"))
    for language, source in texts_by_language.items():
        field = f"texts.{language}"
        if language not in LANGUAGES:
            found.append(Problem(field, None, f"the languages are {', '.join(LANGUAGES)}"))
        elif not source.strip():
            found.append(Problem(field, None, "the text is empty"))
        else:
            found += [Problem(field, p.line, p.message) for p in texts.problems(source, REQUIRED[channel])]
    if channel != "email":
        if subjects:
            found.append(Problem("subjects", None, "only email templates have subjects"))
        return found
    subjects = subjects or {}
    for language in texts_by_language:
        if language in LANGUAGES and language not in subjects:
            found.append(Problem(f"subjects.{language}", None, "an email needs a subject in every language it has"))
    for language, source in subjects.items():
        field = f"subjects.{language}"
        if language not in texts_by_language:
            found.append(Problem(field, None, "a subject needs a text in the same language"))
        elif not source.strip():
            found.append(Problem(field, None, "the subject is empty"))
        elif len(source) > MAX_SUBJECT:
            found.append(Problem(field, None, f"a subject has at most {MAX_SUBJECT} characters"))
        else:
            found += [Problem(field, p.line, p.message) for p in texts.problems(source)]
    return found


def check(channel: str, texts_by_language: Mapping[str, str], subjects: Mapping[str, str] | None) -> None:
    """Raise ValidationFailed naming the field (texts.es), the line and the problem, listing them all."""
    found = problems(channel, texts_by_language, subjects)
    if not found:
        return
    first = found[0]
    where = f"{first.field}, line {first.line}" if first.line else first.field
    details: dict[str, Any] = {"line": first.line} if first.line else {}
    raise ValidationFailed(
        f"{where}: {first.message}", field=first.field, errors=[p.as_dict() for p in found], **details
    )


# ---------------------------------------------------------------- storage


@dataclass(frozen=True)
class StoredTemplate:
    channel: str
    name: str
    texts: Mapping[str, str]  # language -> source, in LANGUAGES order
    subjects: Mapping[str, str]  # email only
    version: int
    created_at: datetime
    updated_at: datetime


def _stored(item: MessageTemplate) -> StoredTemplate:
    return StoredTemplate(
        channel=item.channel,
        name=item.name,
        texts=json.loads(item.texts),
        subjects=json.loads(item.subjects) if item.subjects else {},
        version=int(item.version or 0),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _item(merchant_id: str, channel: str, name: str, consistent: bool = False) -> MessageTemplate | None:
    try:
        return MessageTemplate.get(merchant_id, _key(channel, name), consistent_read=consistent)
    except MessageTemplate.DoesNotExist:
        return None


def _ordered(values: Mapping[str, str]) -> str:
    return json.dumps({lang: values[lang] for lang in LANGUAGES if lang in values}, ensure_ascii=False)


def save_template(
    merchant_id: str,
    channel: str,
    name: str,
    texts_by_language: Mapping[str, str],
    subjects: Mapping[str, str] | None = None,
) -> tuple[StoredTemplate, bool]:
    """Create or replace the merchant's template; (the template, whether it was created)."""
    check_channel(channel)
    check_name(channel, name)
    check(channel, texts_by_language, subjects)
    new_texts = _ordered(texts_by_language)
    new_subjects = _ordered(subjects or {}) if channel == "email" else None
    for _ in range(5):
        current = _item(merchant_id, channel, name, consistent=True)
        now = clock.now()
        if current is None:
            item = MessageTemplate(
                merchant_id=merchant_id,
                strategy_key=_key(channel, name),
                channel=channel,
                name=name,
                texts=new_texts,
                subjects=new_subjects,
                created_at=now,
                updated_at=now,
            )
        elif current.texts == new_texts and current.subjects == new_subjects:
            return _stored(current), False  # nothing changed: no write, no new version
        else:
            item = current
            item.texts, item.subjects, item.updated_at = new_texts, new_subjects, now
        try:
            commit([Write(item)])  # a new item: attribute_not_exists; a replacement: its version
        except TransactionConflict:
            continue
        forget(merchant_id, channel, name)
        return _stored(item), current is None
    raise Conflict("The template is being saved by another request; try again.")


def get_template(merchant_id: str, channel: str, name: str) -> StoredTemplate:
    """The merchant's own template; 404 for a name it has not saved (or another merchant's)."""
    item = _item(merchant_id, channel, name) if _could_exist(channel, name) else None
    if item is None:
        raise NotFound("No such template.")
    return _stored(item)


def list_templates(merchant_id: str) -> list[StoredTemplate]:
    """The merchant's own templates, by channel and name."""
    query = MessageTemplate.query(merchant_id, MessageTemplate.strategy_key.startswith(KEY_PREFIX))
    return [_stored(item) for item in query]


def existing(merchant_id: str, wanted: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (channel, name) pairs exist for the merchant, built-in or its own: one BatchGetItem per
    100 names that are not built in, none when all are."""
    pairs = set(wanted)
    found = {(channel, name) for channel, name in pairs if name in builtin_names(channel)}
    keys = sorted(
        (merchant_id, _key(channel, name))
        for channel, name in pairs - found
        if _could_exist(channel, name) and name not in reserved_names(channel)
    )
    if keys:
        items = MessageTemplate.batch_get(keys, consistent_read=True, attributes_to_get=["channel", "name"])
        found |= {(item.channel, item.name) for item in items}
    return found


# ---------------------------------------------------------------- finding one for a message

_cache: dict[tuple[str, str, str], tuple[float, StoredTemplate | None]] = {}


def _cached(merchant_id: str, channel: str, name: str) -> StoredTemplate | None:
    """Reread at most once a minute per container; a save in this container shows at once."""
    key = (merchant_id, channel, name)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    item = _item(merchant_id, channel, name)
    if len(_cache) >= MAX_CACHED:
        _cache.clear()
    _cache[key] = (now, _stored(item) if item else None)
    return _cache[key][1]


def forget(merchant_id: str, channel: str, name: str) -> None:
    _cache.pop((merchant_id, channel, name), None)


@dataclass(frozen=True)
class ResolvedTemplate:
    """What the sender renders: a built-in (its own paths) or a merchant's text in one language."""

    channel: str
    name: str
    language: str  # the debtor's language if the template has it, else a fallback
    builtin: bool
    text: str | None = None  # the merchant's source in `language`; None for a built-in
    subject: str | None = None  # email only
    version: int | None = None  # the merchant template's version when it was read


def pick_language(available: Iterable[str], locale: str) -> str | None:
    """The debtor's language, else English, else Spanish, else the first the template has."""
    have = [lang for lang in LANGUAGES if lang in set(available)]
    for language in (language_for(locale), *FALLBACK_LANGUAGES):
        if language in have:
            return language
    return have[0] if have else None


def resolve(merchant_id: str, channel: str, name: str, locale: str) -> ResolvedTemplate | None:
    """The template a step's variant names, in the debtor's language; None if there is none."""
    if not _could_exist(channel, name):
        return None
    if name in reserved_names(channel):
        if name not in builtin_names(channel):
            return None
        language = pick_language(builtin_languages(channel, name), locale)
        return ResolvedTemplate(channel, name, language, builtin=True) if language else None
    stored = _cached(merchant_id, channel, name)
    if stored is None:
        return None
    language = pick_language(stored.texts, locale)
    if language is None:
        return None
    return ResolvedTemplate(
        channel,
        name,
        language,
        builtin=False,
        text=stored.texts[language],
        subject=stored.subjects.get(language),
        version=stored.version,
    )


def exists(merchant_id: str, channel: str, name: str) -> bool:
    """Whether a step on `channel` may name `name` for this merchant (built-ins cost no request)."""
    if not _could_exist(channel, name):
        return False
    if name in reserved_names(channel):
        return name in builtin_names(channel)
    return _cached(merchant_id, channel, name) is not None


# ---------------------------------------------------------------- rendering


def render_text(resolved: ResolvedTemplate, variables: Mapping[str, str]) -> str:
    """An SMS or WhatsApp text, rendered in the sandbox with the documented variables."""
    if resolved.channel == "email":
        raise ValueError("email templates are rendered with render_email")
    values = dict(variables)
    if resolved.builtin:
        return texts.render_builtin(resolved.channel, resolved.name, resolved.language, values)
    if resolved.text is None:
        raise ValueError("a merchant's template without a text")
    return texts.render_source(resolved.text, values, REQUIRED[resolved.channel])


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def render_email(resolved: ResolvedTemplate, variables: Mapping[str, str]) -> tuple[str, str, str]:
    """(subject, text, html) of a merchant's email: its subject and body rendered in the sandbox,
    set in our layout with the payment button and the unsubscribe footer. `variables` are
    texts.variables(...) plus "unsubscribe_url", which only the footer sees."""
    if resolved.channel != "email" or resolved.builtin or resolved.text is None or resolved.subject is None:
        raise ValueError("render_email renders a merchant's email template; built-ins keep their own templates")
    unsubscribe_url = variables.get("unsubscribe_url", "")
    if not unsubscribe_url:
        raise ValueError("an email needs its unsubscribe_url")
    values = dict(variables)  # texts renders only the documented variables: unsubscribe_url is not one
    subject = " ".join(texts.render_source(resolved.subject, values).split()) or values.get("merchant_name", "")
    paragraphs = _paragraphs(texts.render_lines(resolved.text, values, REQUIRED["email"]))
    footer = catalogue(resolved.language).get(UNSUBSCRIBE_LINE) or UNSUBSCRIBE_LINE
    text = "\n\n".join("\n".join(lines) for lines in paragraphs) + f"\n\n{footer} {unsubscribe_url}\n"
    html = render(
        EMAIL_LAYOUT,
        resolved.language,
        merchant_name=values.get("merchant_name", ""),
        paragraphs=paragraphs,
        payment_url=values.get("payment_url", ""),
        unsubscribe_url=unsubscribe_url,
    )
    return subject, text, html
