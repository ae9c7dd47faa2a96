"""One reminder rendered for its channel and template variant, ready to send.

The sender decides whether and what to send; this module only turns (claim, debtor, merchant,
step channel, variant) into the email, SMS or WhatsApp message, with the message's tracked links:
the payment link sits behind the signed click redirect, and emails carry the open pixel
(recobro.optimise.tracking). Every message carries its opt-out: the List-Unsubscribe headers and
footer link for email, the channel's "reply STOP" sentence for SMS and WhatsApp. A step with an
early-payment offer (recobro.claims.early_payment) passes it in: emails get `offer`, SMS and
WhatsApp texts `offer_text`, and WhatsApp sends the `reminder_offer` template (Meta refuses empty
parameters, so the plain reminder cannot carry an empty offer). Nothing here sends, so everything
that can fail before the send fails before the message slot is taken.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from recobro import clock, config, unsubscribe
from recobro.channels import email as email_channel
from recobro.channels import message_templates, texts, whatsapp
from recobro.channels import sms as sms_channel
from recobro.claims.amounts import installment_owed
from recobro.claims.early_payment import Offer
from recobro.claims.service import amount_due
from recobro.optimise.tracking import TrackedLinks, tracked_links
from recobro.storage.models import Claim, Debtor, Merchant

BUILT_IN_TEMPLATE = "reminder"
OFFER_WHATSAPP_KIND = "reminder_offer"  # templates/whatsapp/reminder_offer.*: the reminder with its offer


@dataclass(frozen=True)
class Outgoing:
    """A rendered reminder, or the reason it cannot go out as it is (`refused`, with `detail`)."""

    channel: str
    template: str
    email: email_channel.Email | None = None
    sms: sms_channel.Sms | None = None
    whatsapp: dict[str, Any] | None = None
    refused: str | None = None
    detail: str | None = None
    opt_out: str = ""  # the sentence an SMS or WhatsApp text must contain

    def carries_opt_out(self) -> bool:
        if self.email is not None:
            return _email_carries_opt_out(self.email)
        if self.sms is not None:
            return bool(self.opt_out) and self.opt_out in self.sms.text
        if self.whatsapp is not None:
            return bool(self.opt_out) and self.opt_out in whatsapp.preview(self.whatsapp)
        return False

    def send(self) -> str:
        """Hand the message to its provider; the provider's message id."""
        if self.email is not None:
            return email_channel.send(self.email)
        if self.sms is not None:
            return sms_channel.send(self.sms)
        if self.whatsapp is not None:
            return whatsapp.send(self.whatsapp)
        raise ValueError(f"nothing to send: {self.refused}")


def _email_carries_opt_out(message: email_channel.Email) -> bool:
    """A List-Unsubscribe header, or a link to the debtor's page (its opt-out form covers every
    channel) in both parts of the email."""
    if any(name.lower() == "list-unsubscribe" for name in message.headers):
        return True
    page = config.pages_base_url() + "/p/"
    return page in message.text and page in message.html


@dataclass(frozen=True)
class Reminder:
    """What one reminder is about: the claim, its debtor and merchant, the installment and slot."""

    claim: Claim
    debtor: Debtor
    merchant: Merchant | None
    installment: int
    message_id: str
    link_version: int
    offer: Offer | None = None  # the early-payment offer the step makes (recobro.claims.early_payment)

    @property
    def merchant_name(self) -> str:
        return self.merchant.display_name if self.merchant else self.claim.merchant_id

    @property
    def due_date(self) -> date:
        number = self.installment
        return date.fromisoformat(next(i.due_date for i in self.claim.installments if int(i.number) == number))

    @property
    def amount_overdue(self) -> int:
        return sum(installment_owed(i) for i in self.claim.installments if int(i.number) <= self.installment)

    def links(self) -> TrackedLinks:
        claim = self.claim
        return tracked_links(
            claim.merchant_id,
            claim.claim_id,
            self.message_id,
            link_version=self.link_version,
            debtor_id=claim.debtor_id,
        )

    def facts(self, channel: str, payment_url: str) -> texts.MessageFacts:
        merchant = self.merchant
        return texts.MessageFacts(
            locale=self.debtor.locale,
            channel=channel,
            debtor_name=self.debtor.name,
            merchant_name=self.merchant_name,
            amount_due=amount_due(self.claim),
            currency=self.claim.currency,
            payment_url=payment_url,
            due_date=self.due_date,
            amount_overdue=self.amount_overdue,
            description=self.claim.description,
            support_email=merchant.support_email if merchant and merchant.support_email else "",
            support_phone=merchant.support_phone if merchant and merchant.support_phone else "",
            offer=self.offer,
        )

    @property
    def upcoming(self) -> bool:
        """Whether the installment is not due yet in the debtor's calendar (a pre-due reminder)."""
        return self.due_date > clock.now().astimezone(ZoneInfo(self.claim.timezone)).date()


def compose(reminder: Reminder, channel: str, template: str, offer: Offer | None = None) -> Outgoing:
    """The reminder rendered for `channel` with the variant `template` (ours or the merchant's), and
    `offer` when the step makes an early-payment offer and the Reminder does not carry it already."""
    if offer is not None:
        reminder = replace(reminder, offer=offer)
    resolved = message_templates.resolve(reminder.claim.merchant_id, channel, template, reminder.debtor.locale)
    if resolved is None:
        return Outgoing(channel, template, refused="template_missing", detail=f"no {channel} template '{template}'")
    links = reminder.links()
    try:
        if channel == "email":
            return _email(reminder, links) if resolved.builtin else _merchant_email(reminder, links, resolved)
        if channel == "sms":
            return _sms(reminder, links, resolved)
        if channel == "whatsapp":
            return _whatsapp(reminder, links, resolved)
    except texts.TemplateInvalid as invalid:  # a merchant's text that passed its checks but not this render
        return Outgoing(channel, template, refused="template_invalid", detail=str(invalid))
    raise ValueError(f"unknown channel {channel!r}")


def _headers(reminder: Reminder, unsubscribe_url: str) -> dict[str, str]:
    return {
        "X-Recobro-Claim-Id": reminder.claim.claim_id,
        "X-Recobro-Message-Id": reminder.message_id,
        **email_channel.unsubscribe_headers(unsubscribe_url),
    }


def _unsubscribe_url(reminder: Reminder) -> str:
    claim = reminder.claim
    return unsubscribe.url(claim.merchant_id, claim.debtor_id, "email", claim.claim_id)


def _merchant_email(reminder: Reminder, links: TrackedLinks, resolved: message_templates.ResolvedTemplate) -> Outgoing:
    unsubscribe_url = _unsubscribe_url(reminder)
    variables = texts.variables(reminder.facts("email", links.click_url))
    subject, text, html = message_templates.render_email(resolved, {**variables, "unsubscribe_url": unsubscribe_url})
    pixel = f'<img src="{escape(links.open_pixel_url)}" width="1" height="1" alt="" style="display:block;border:0">'
    message = email_channel.Email(
        to=str(reminder.debtor.email),
        subject=subject,
        text=text,
        html=html.replace("</body>", f"{pixel}</body>", 1),
        from_name=reminder.merchant_name,
        headers=_headers(reminder, unsubscribe_url),
    )
    return Outgoing("email", resolved.name, email=message)


def _offer_context(offer: Offer | None) -> dict[str, Any] | None:
    """What the email templates say about an early-payment offer (None: the email makes none)."""
    if offer is None:
        return None
    return {
        "installment": offer.installment,
        "amount_to_pay": offer.amount_to_pay,
        "discount": offer.discount,
        "percent": offer.discount_percent,
        "valid_until": offer.due_date,  # the offer lasts through this day, in the debtor's calendar
        "currency": offer.currency,
    }


def _email(reminder: Reminder, links: TrackedLinks) -> Outgoing:
    claim, debtor = reminder.claim, reminder.debtor
    unsubscribe_url = _unsubscribe_url(reminder)
    context = {
        "merchant_name": reminder.merchant_name,
        "support_email": reminder.merchant.support_email if reminder.merchant else "",
        "debtor_name": debtor.name,
        "description": claim.description,
        "amount_due": amount_due(claim),
        "amount_overdue": reminder.amount_overdue,
        "currency": claim.currency,
        "due_date": reminder.due_date,
        "payment_url": links.click_url,
        "open_pixel_url": links.open_pixel_url,
        "unsubscribe_url": unsubscribe_url,
        "upcoming": reminder.upcoming,
        "offer": _offer_context(reminder.offer),
    }
    subject, text, html = email_channel.render_reminder(debtor.locale, context)
    message = email_channel.Email(
        to=str(debtor.email),
        subject=subject,
        text=text,
        html=html,
        from_name=reminder.merchant_name,
        headers=_headers(reminder, unsubscribe_url),
    )
    return Outgoing("email", BUILT_IN_TEMPLATE, email=message)


def _sms(reminder: Reminder, links: TrackedLinks, resolved: message_templates.ResolvedTemplate) -> Outgoing:
    variables = texts.variables(reminder.facts("sms", links.click_url))
    text = message_templates.render_text(resolved, variables)
    cap = int(reminder.merchant.max_sms_segments) if reminder.merchant else sms_channel.DEFAULT_MAX_SEGMENTS
    fitted = sms_channel.fit(text, cap)
    opt_out = variables["opt_out_text"]
    if isinstance(fitted, sms_channel.Refused):
        return Outgoing("sms", resolved.name, refused=fitted.reason, detail=fitted.detail, opt_out=opt_out)
    # A text that only fits without accents also carries its opt-out without them.
    carried = opt_out if fitted.text == text else sms_channel.to_gsm7(opt_out)
    message = sms_channel.Sms(str(reminder.debtor.phone), fitted.text)
    return Outgoing("sms", resolved.name, sms=message, opt_out=carried)


def _whatsapp(reminder: Reminder, links: TrackedLinks, resolved: message_templates.ResolvedTemplate) -> Outgoing:
    """A template message: ours (recobro_reminder), or the merchant's, which they register with
    Meta under its own name with the very text saved here (named parameters, ADR 0013)."""
    variables = texts.variables(reminder.facts("whatsapp", links.click_url))
    to = str(reminder.debtor.phone)
    callback = whatsapp.callback_data(reminder.claim.claim_id, reminder.message_id)
    if resolved.builtin:
        # WhatsApp refuses empty template parameters: our reminder has its own template with the offer.
        offered = reminder.offer is not None and resolved.name == BUILT_IN_TEMPLATE
        kind = OFFER_WHATSAPP_KIND if offered else resolved.name
        message = whatsapp.reminder_message(to, reminder.debtor.locale, variables, kind, callback)
    else:
        message_templates.render_text(resolved, variables)  # refuses a text that cannot render
        used = texts.variables_used(str(resolved.text))
        parameters = {name: variables[name] for name in used}
        message = whatsapp.template_message(to, resolved.name, reminder.debtor.locale, parameters, callback)
    return Outgoing("whatsapp", resolved.name, whatsapp=message, opt_out=variables["opt_out_text"])
