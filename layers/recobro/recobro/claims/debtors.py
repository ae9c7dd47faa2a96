"""Debtors as merchants see and correct them: contact data, language, opt-outs per channel.

A timezone change moves every open claim of the debtor to reminders at the new local time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from recobro import clock
from recobro.claims.schemas import DebtorIn, _Strict, parse
from recobro.claims.service import get_claim, get_debtor, retime_claims
from recobro.errors import Conflict, ValidationFailed
from recobro.reminders.schedule import utc_iso
from recobro.storage.models import Debtor
from recobro.validation import PlainText

Channel = Literal["email", "sms", "whatsapp"]


class DebtorUpdate(_Strict):
    """Fields to change; the rest stay as they are."""

    name: Annotated[PlainText, Field(min_length=1, max_length=200)] | None = None
    email: Annotated[StrictStr, Field(max_length=254)] | None = None
    phone: Annotated[StrictStr, Field(max_length=20)] | None = None
    locale: Annotated[StrictStr, Field(max_length=35)] | None = None
    timezone: Annotated[StrictStr, Field(max_length=64)] | None = None


class OptOutIn(_Strict):
    channel: Channel
    reason: Annotated[PlainText, Field(max_length=500)] | None = None


class DebtorOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    object: Literal["debtor"] = "debtor"
    external_id: str
    name: str
    email: str | None
    phone: str | None
    locale: str
    timezone: str
    opted_out_channels: list[Channel]
    created_at: str
    updated_at: str


def debtor_view(debtor: Debtor) -> dict[str, Any]:
    return DebtorOut(
        id=debtor.debtor_id,
        external_id=debtor.external_id,
        name=debtor.name,
        email=debtor.email,
        phone=debtor.phone,
        locale=debtor.locale,
        timezone=debtor.timezone,
        opted_out_channels=sorted(debtor.opted_out_channels or []),  # type: ignore[arg-type]
        created_at=utc_iso(debtor.created_at),
        updated_at=utc_iso(debtor.updated_at),
    ).model_dump(mode="json")


def _validated(update: DebtorUpdate) -> dict[str, Any]:
    """Run the creation validators on just the fields being changed."""
    changes = update.model_dump(exclude_unset=True)
    if any(value is None for key, value in changes.items() if key in ("name", "locale", "timezone")):
        raise ValidationFailed("This field cannot be removed.", field=next(k for k, v in changes.items() if v is None))
    probe = {"external_id": "x", "name": "x", "email": "probe@example.com", **changes}
    checked = parse(DebtorIn, {k: v for k, v in probe.items() if v is not None})
    return {key: getattr(checked, key) if value is not None else None for key, value in changes.items()}


def update_debtor(merchant_id: str, debtor_id: str, update: DebtorUpdate) -> Debtor:
    debtor = get_debtor(merchant_id, debtor_id)
    changes = _validated(update)
    if "email" in changes or "phone" in changes:
        email = changes.get("email", debtor.email)
        phone = changes.get("phone", debtor.phone)
        if email is None and phone is None:
            raise ValidationFailed("A debtor needs an email or a phone number.", field="email")
    for key, value in changes.items():
        setattr(debtor, key, value)
    debtor.updated_at = clock.now()
    debtor.save()
    if "timezone" in changes:
        retime_claims(merchant_id, debtor)
    return debtor


def update_claim_debtor(merchant_id: str, claim_id: str, update: DebtorUpdate) -> Debtor:
    claim = get_claim(merchant_id, claim_id)
    return update_debtor(merchant_id, claim.debtor_id, update)


def opt_out(merchant_id: str, debtor_id: str, request: OptOutIn) -> Debtor:
    debtor = get_debtor(merchant_id, debtor_id)
    channels = set(debtor.opted_out_channels or [])
    if request.channel in channels:
        return debtor
    channels.add(request.channel)
    debtor.opted_out_channels = channels
    debtor.updated_at = clock.now()
    debtor.save()
    return debtor


def opt_in(merchant_id: str, debtor_id: str, channel: str) -> Debtor:
    if channel not in ("email", "sms", "whatsapp"):
        raise ValidationFailed("One of email, sms, whatsapp.", field="channel")
    debtor = get_debtor(merchant_id, debtor_id)
    channels = set(debtor.opted_out_channels or []) - {channel}
    if not channels and not debtor.opted_out_channels:
        raise Conflict("The debtor has not opted out of this channel.", code_override="not_opted_out")
    debtor.opted_out_channels = channels or None
    debtor.updated_at = clock.now()
    debtor.save()
    return debtor
