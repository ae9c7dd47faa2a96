"""Short texts for SMS and WhatsApp, ours and merchants', rendered in Jinja2's sandbox.

A text may use only the documented variables (VARIABLES), each a ready-formatted string (money
and dates already in the debtor's locale), and a few string filters. Anything else (an unknown
name, attribute or item access, calls, loops, includes, assignments) is a validation error that
names its line, so a merchant's template can reach nothing but the values we hand it. The
built-in texts (templates/sms, templates/whatsapp, templates/replies; one file per language)
pass through the same checks, and rendering happens in the sandbox as a second line of defence.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from recobro import config
from recobro.money import format_date, format_money
from recobro.rendering import catalogue, language_for

if TYPE_CHECKING:
    from recobro.claims.early_payment import Offer

# The documented variables: name -> what it holds. Every value is a string.
VARIABLES: dict[str, str] = {
    "debtor_first_name": "The debtor's first name, e.g. Lucía",
    "debtor_name": "The debtor's full name",
    "merchant_name": "The merchant's display name",
    "description": "What the claim is for, e.g. the order's description",
    "amount_due": "Everything still to pay, formatted for the debtor's locale, e.g. 25,00 €",
    "amount_overdue": "What is overdue now, formatted like amount_due",
    "due_date": "The installment's due date, formatted for the debtor's locale",
    "payment_url": "The debtor's personal payment link",
    "help_url": "The page where the debtor can ask for help or choose a plan",
    "support_email": "The merchant's support email address",
    "support_phone": "The merchant's support phone number (empty when none)",
    "channel_name": "The channel the message goes through: SMS, WhatsApp or email",
    "opt_out_text": "How to stop messages on this channel, in the debtor's language (no final period)",
    "offer_text": (
        "The early-payment offer as one sentence in the debtor's language, e.g. Pay 24,50 € by 1 oct 2026"
        " and save 0,50 €. (with its final period); empty when the message makes no offer"
    ),
}
# Filters that only reshape a string.
FILTERS = frozenset({"upper", "lower", "capitalize", "title", "trim", "default"})
# What a merchant's SMS or WhatsApp template must include.
REQUIRED = ("payment_url", "opt_out_text")
MAX_SOURCE = 2000

OPT_OUT_TEXT: dict[str, dict[str, str]] = {
    "sms": {
        "es": "Responde BAJA para no recibir más SMS",
        "en": "Reply STOP to stop these texts",
        "pt-BR": "Responda SAIR para não receber mais SMS",
    },
    "whatsapp": {
        "es": "Responde BAJA para no recibir más mensajes por WhatsApp",
        "en": "Reply STOP to stop these WhatsApp messages",
        "pt-BR": "Responda SAIR para não receber mais mensagens no WhatsApp",
    },
    "email": {
        "es": "Para no recibir más correos, usa el enlace para darte de baja",
        "en": "To stop these emails, use the unsubscribe link",
        "pt-BR": "Para não receber mais e-mails, use o link de cancelamento",
    },
}
CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "email"}


@dataclass(frozen=True)
class TemplateProblem:
    message: str
    line: int | None = None


class TemplateInvalid(ValueError):
    """A template that may not be used; `problems` say what and where."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        self.problems = problems
        first = problems[0]
        where = f"line {first.line}: " if first.line else ""
        super().__init__(f"{where}{first.message}")


@functools.lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters = {name: env.filters[name] for name in FILTERS}
    env.tests = {}
    env.globals = {}
    return env


_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.If,
    nodes.CondExpr,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
)


def _problems_in(node: nodes.Node, found: list[TemplateProblem]) -> None:
    line = getattr(node, "lineno", None)
    if isinstance(node, nodes.Name):
        if node.ctx != "load":
            found.append(TemplateProblem("assignments are not allowed", line))
        elif node.name not in VARIABLES:
            found.append(TemplateProblem(f"unknown variable {node.name!r}; known: {', '.join(VARIABLES)}", line))
        return
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Slice):
        found.append(TemplateProblem("attribute and item access are not allowed", line))
        return
    if isinstance(node, nodes.Filter):
        if node.name not in FILTERS:
            found.append(
                TemplateProblem(f"filter {node.name!r} is not allowed; allowed: {', '.join(sorted(FILTERS))}", line)
            )
            return
        if node.kwargs or node.dyn_args or node.dyn_kwargs or any(not isinstance(a, nodes.Const) for a in node.args):
            found.append(TemplateProblem("filter arguments must be plain text or numbers", line))
            return
        if node.node is not None:
            _problems_in(node.node, found)
        return
    if isinstance(node, nodes.Call):
        found.append(TemplateProblem("calls are not allowed", line))
        return
    if not isinstance(node, _ALLOWED_NODES):
        found.append(TemplateProblem(f"{type(node).__name__.lower()} is not allowed in a message template", line))
        return
    for child in node.iter_child_nodes():
        _problems_in(child, found)


# What rendering a template that passed the tree walk can still raise: a filter given arguments it
# cannot take (trim(1), upper(1)), text compared with a number (amount_due > 3).
_RENDER_ERRORS = (SecurityError, UndefinedError, TypeError, ValueError, LookupError, ArithmeticError)


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """Compiling costs more than rendering; a sender renders the same few texts all day."""
    return _environment().from_string(source)


def _template_line(error: BaseException) -> int | None:
    """The template line a rendering error came from (Jinja puts template frames in the traceback)."""
    line, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def problems(source: str, required: tuple[str, ...] = ()) -> list[TemplateProblem]:
    """Everything wrong with a template; an empty list means it may be used."""
    if len(source) > MAX_SOURCE:
        return [TemplateProblem(f"a message template has at most {MAX_SOURCE} characters")]
    try:
        tree = _environment().parse(source)
    except TemplateSyntaxError as error:
        return [TemplateProblem(f"syntax error: {error.message}", error.lineno)]
    found: list[TemplateProblem] = []
    _problems_in(tree, found)
    used = {n.name for n in tree.find_all(nodes.Name)}
    found += [TemplateProblem(f"the template must use {{{{ {name} }}}}") for name in required if name not in used]
    if not found:
        found += _trial_problems(source)
    return found


def _trial_problems(source: str) -> list[TemplateProblem]:
    """Render with every variable set, then with every one empty: what fails whatever the values
    (a filter's arguments, text compared with a number) is found now, not when a debtor is due a
    message. A failure that needs some values empty and others not is refused by render_lines."""
    for value in ("x", ""):
        try:
            _compiled(source).render(**dict.fromkeys(VARIABLES, value))
        except _RENDER_ERRORS as error:
            return [TemplateProblem(f"cannot be rendered: {error}", _template_line(error))]
    return []


def check(source: str, required: tuple[str, ...] = REQUIRED) -> None:
    """Raise TemplateInvalid unless a merchant's template may be used."""
    found = problems(source, required)
    if found:
        raise TemplateInvalid(found)


def variables_used(source: str) -> list[str]:
    """The documented variables a template uses, in order of first appearance."""
    tree = _environment().parse(source)
    seen: list[str] = []
    for name in tree.find_all(nodes.Name):
        if name.name not in seen:
            seen.append(name.name)
    return seen


def render_lines(source: str, variables: dict[str, str], required: tuple[str, ...] = ()) -> list[str]:
    """Check, then render in the sandbox: the lines, whitespace folded, blank lines kept as ""."""
    check(source, required)
    context = {name: str(value) for name, value in variables.items() if name in VARIABLES}
    try:
        text = _compiled(source).render(**context)
    except _RENDER_ERRORS as error:
        raise TemplateInvalid([TemplateProblem(str(error), _template_line(error))]) from None
    return [" ".join(line.split()) for line in text.strip().splitlines()]


def render_source(source: str, variables: dict[str, str], required: tuple[str, ...] = ()) -> str:
    """Check, then render in the sandbox; whitespace is folded to single spaces between lines."""
    return "\n".join(line for line in render_lines(source, variables, required) if line)


# ---------------------------------------------------------------- the built-in texts


def builtin_path_name(folder: str, kind: str, locale: str) -> str:
    return f"{folder}/{kind}.{language_for(locale)}.txt.j2"


@functools.lru_cache(maxsize=64)
def builtin_source(folder: str, kind: str, language: str) -> str:
    path = config.templates_dir() / folder / f"{kind}.{language}.txt.j2"
    return path.read_text(encoding="utf-8")


def render_builtin(folder: str, kind: str, locale: str, variables: dict[str, str]) -> str:
    """One of our texts (folder sms, whatsapp or replies) in the debtor's language."""
    return render_source(builtin_source(folder, kind, language_for(locale)), variables)


# ---------------------------------------------------------------- variables from facts


def first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


@dataclass(frozen=True)
class MessageFacts:
    """What a message may say, before formatting; amounts in minor units of `currency`."""

    locale: str
    channel: str  # email | sms | whatsapp
    debtor_name: str
    merchant_name: str
    amount_due: int
    currency: str
    payment_url: str
    due_date: date | None = None
    amount_overdue: int | None = None
    description: str = ""
    support_email: str = ""
    support_phone: str = ""
    offer: Offer | None = None  # an early-payment offer this message makes (recobro.claims.early_payment)


# The sentence the payment page and the reminder email use too (templates/locales).
OFFER_SENTENCE = "Pay %(amount)s by %(date)s and save %(discount)s."


def offer_text(offer: Offer | None, locale: str) -> str:
    """The offer in one sentence in the debtor's language, or "" when there is none."""
    if offer is None:
        return ""
    sentence = catalogue(language_for(locale)).get(OFFER_SENTENCE) or OFFER_SENTENCE
    return sentence % {
        "amount": format_money(offer.amount_to_pay, offer.currency, locale),
        "date": format_date(offer.due_date, locale),
        "discount": format_money(offer.discount, offer.currency, locale),
    }


def opt_out_text(channel: str, locale: str) -> str:
    return OPT_OUT_TEXT.get(channel, OPT_OUT_TEXT["sms"])[language_for(locale)]


_SPACES = re.compile(r"\s+")


def _one_line(value: str) -> str:
    """WhatsApp refuses parameters with line breaks, tabs or runs of spaces; SMS reads better too."""
    return _SPACES.sub(" ", value).strip()


def variables(facts: MessageFacts) -> dict[str, str]:
    """The documented variables, formatted for the debtor's locale."""
    overdue = facts.amount_due if facts.amount_overdue is None else facts.amount_overdue
    values = {
        "debtor_first_name": first_name(facts.debtor_name),
        "debtor_name": facts.debtor_name,
        "merchant_name": facts.merchant_name,
        "description": facts.description,
        "amount_due": format_money(facts.amount_due, facts.currency, facts.locale),
        "amount_overdue": format_money(overdue, facts.currency, facts.locale),
        "due_date": format_date(facts.due_date, facts.locale) if facts.due_date else "",
        "payment_url": facts.payment_url,
        "help_url": f"{facts.payment_url}/help",
        "support_email": facts.support_email,
        "support_phone": facts.support_phone,
        "channel_name": CHANNEL_NAMES.get(facts.channel, facts.channel),
        "opt_out_text": opt_out_text(facts.channel, facts.locale),
        "offer_text": offer_text(facts.offer, facts.locale),
    }
    return {name: _one_line(value) for name, value in values.items()}
