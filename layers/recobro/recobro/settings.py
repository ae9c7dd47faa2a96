"""Branding and collection settings per merchant: validated here, stored on the Merchant item.

`GET /v1/settings` shows them with defaults filled in; `PATCH /v1/settings` changes only the
fields it names. Nested objects (plan_rules, contact_window) merge field by field, and `null`
clears an optional field (logo_url, accent_color, support_phone, legal_footer), as in JSON Merge
Patch. A PATCH reads the merchant, merges, checks the rules that span fields (max installments
at least min, contact window start before end) on the merged result, and writes under the
merchant's version, re-reading on a concurrent change, so two PATCHes never lose each other's
fields nor combine into settings that break a rule.

Later pages and the sender read settings through `merchant_settings()`, which sits on the
container's merchant cache; an update here drops this container's cache entry.

Text is stored as given: nothing here or in the templates interprets HTML (templates escape).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr
from pynamodb.exceptions import UpdateError

from recobro import clock
from recobro.claims.schemas import parse
from recobro.errors import Conflict, NotFound, ValidationFailed
from recobro.merchants import cached_merchant, forget_merchant
from recobro.money import MAX_MINOR_UNITS
from recobro.storage.models import Merchant
from recobro.validation import e164_phone, email_address, whole_number

MAX_LOGO_URL = 2048
MAX_LEGAL_FOOTER = 1000
EARLIEST_CONTACT = "08:00"
LATEST_CONTACT = "21:00"
MAX_PLAN_INSTALLMENTS = 24
MAX_DAYS_TO_PROMISE = 60
MAX_DAYS_TO_MOVE = 31
_ATTEMPTS = 5

# ---------------------------------------------------------------- field types


# Plain text: no C0/C1 control characters (tabs and line breaks aside) and no invisible format
# characters (zero-width, bidi overrides, BOM). The same patterns go into the JSON Schema, so the
# OpenAPI document says exactly what is accepted.
_INVISIBLE = "\\x7f-\\x9f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff"
TEXT_PATTERN = f"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f{_INVISIBLE}]*$"
# One line with at least one visible character.
LINE_PATTERN = f"^[^\\x00-\\x1f{_INVISIBLE}]*[^\\s\\x00-\\x1f{_INVISIBLE}][^\\x00-\\x1f{_INVISIBLE}]*$"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = "(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HTTPS_URL_PATTERN = f"^https://{_LABEL}(?:\\.{_LABEL})*(?::{_PORT})?(?:[/?#][\\x21-\\x7e]*)?$"


def _matching(pattern: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


_plain_text = _matching(TEXT_PATTERN, "plain text only: no control or invisible characters")
_single_line = _matching(LINE_PATTERN, "a single line of plain text: no line breaks, control or invisible characters")
_https_url = _matching(
    HTTPS_URL_PATTERN, "an https URL with a host name, no user name or password, and visible ASCII only"
)


def _upper(value: str) -> str:
    return value.upper()


def _within_contact_hours(value: str) -> str:
    if not EARLIEST_CONTACT <= value <= LATEST_CONTACT:
        raise ValueError(f"contact hours lie within {EARLIEST_CONTACT}–{LATEST_CONTACT}")
    return value


DisplayName = Annotated[
    StrictStr, Field(min_length=1, max_length=100, json_schema_extra={"pattern": LINE_PATTERN}), _single_line
]
LogoUrl = Annotated[
    StrictStr,
    Field(min_length=9, max_length=MAX_LOGO_URL, json_schema_extra={"pattern": HTTPS_URL_PATTERN}),
    _https_url,
]
HexColor = Annotated[StrictStr, Field(pattern=r"^#[0-9A-Fa-f]{6}$", description="#RRGGBB"), AfterValidator(_upper)]
SupportEmail = Annotated[
    StrictStr, Field(min_length=3, max_length=254, json_schema_extra={"format": "email"}), AfterValidator(email_address)
]
SupportPhone = Annotated[StrictStr, Field(min_length=2, max_length=20, description="E.164"), AfterValidator(e164_phone)]
LegalFooter = Annotated[
    StrictStr, Field(max_length=MAX_LEGAL_FOOTER, json_schema_extra={"pattern": TEXT_PATTERN}), _plain_text
]
IdentityCheck = Literal["date_of_birth", "postal_code"]
ClockTime = Annotated[
    StrictStr,
    Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, 24-hour, between 08:00 and 21:00"),
    AfterValidator(_within_contact_hours),
]
# Bounds before the validator, so the JSON Schema says minimum/maximum (pydantic cannot push them
# through a BeforeValidator and would emit "ge"/"le", which JSON Schema does not know).
Whole = BeforeValidator(whole_number)
MinInstallments = Annotated[int, Field(ge=2, le=MAX_PLAN_INSTALLMENTS), Whole]
MaxInstallments = Annotated[int, Field(ge=2, le=MAX_PLAN_INSTALLMENTS), Whole]
MinInstallmentAmount = Annotated[int, Field(gt=0, le=MAX_MINOR_UNITS, description="minor units"), Whole]
MaxDaysToPromise = Annotated[int, Field(ge=1, le=MAX_DAYS_TO_PROMISE), Whole]
MinPaymentAmount = Annotated[int, Field(ge=1, le=MAX_MINOR_UNITS, description="minor units"), Whole]
MaxDaysToMove = Annotated[int, Field(ge=1, le=MAX_DAYS_TO_MOVE), Whole]
MaxContactsPerWeek = Annotated[int, Field(ge=1, le=7), Whole]
MaxSmsSegments = Annotated[
    int, Field(ge=1, le=10, description="SMS parts one message may take; longer texts are not sent"), Whole
]

T = TypeVar("T")


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep its value")
    return value


def _not_nullable_in_schema(schema: dict[str, Any]) -> None:
    """The field may be left out but not sent as null: say so in the JSON Schema."""
    options = schema.pop("anyOf", None)
    schema.pop("default", None)
    if options is not None:
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept


# Optional in a PATCH, never null.
Omittable = Annotated[T | None, BeforeValidator(_refuse_null), Field(json_schema_extra=_not_nullable_in_schema)]


class _Strict(BaseModel):
    # No whitespace stripping: the value stored is the value sent, and the schema says so exactly.
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- requests


class PlanRulesPatch(_Strict):
    min_installments: Omittable[MinInstallments] = None
    max_installments: Omittable[MaxInstallments] = None
    min_installment_amount: Omittable[MinInstallmentAmount] = None
    max_days_to_promise: Omittable[MaxDaysToPromise] = None
    min_payment_amount: Omittable[MinPaymentAmount] = None
    max_days_to_move: Omittable[MaxDaysToMove] = None


class ContactWindowPatch(_Strict):
    start: Omittable[ClockTime] = None
    end: Omittable[ClockTime] = None


class SettingsPatch(_Strict):
    """Only the fields sent change; nested objects merge; null clears an optional field."""

    display_name: Omittable[DisplayName] = None
    logo_url: LogoUrl | None = None
    brand_color: Omittable[HexColor] = None
    accent_color: HexColor | None = None
    support_email: Omittable[SupportEmail] = None
    support_phone: SupportPhone | None = None
    legal_footer: LegalFooter | None = None
    identity_check: Omittable[IdentityCheck] = None
    plan_rules: Omittable[PlanRulesPatch] = None
    contact_window: Omittable[ContactWindowPatch] = None
    max_contacts_per_week: Omittable[MaxContactsPerWeek] = None
    max_sms_segments: Omittable[MaxSmsSegments] = None


# ---------------------------------------------------------------- responses


class PlanRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_installments: int
    max_installments: int
    min_installment_amount: int = Field(description="minor units")
    max_days_to_promise: int
    min_payment_amount: int = Field(description="minor units: the least a debtor may pay or promise on the page")
    max_days_to_move: int = Field(description="how many days later a debtor may move a payment date")


class ContactWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str
    end: str


class MerchantSettings(BaseModel):
    """A merchant's branding and rules with every default filled in."""

    model_config = ConfigDict(extra="forbid")

    object: Literal["settings"] = "settings"
    display_name: str
    logo_url: str | None
    brand_color: str
    accent_color: str | None
    support_email: str
    support_phone: str | None
    legal_footer: str | None
    identity_check: IdentityCheck
    plan_rules: PlanRules
    contact_window: ContactWindow
    max_contacts_per_week: int
    max_sms_segments: int = Field(description="SMS parts one message may take (160 GSM-7 / 70 UCS-2 characters each)")
    updated_at: str | None


# ---------------------------------------------------------------- pure logic


def settings_of(merchant: Merchant) -> MerchantSettings:
    plan = merchant.plan_rules  # the model's defaults fill a missing map or field
    window = merchant.contact_window
    updated = merchant.updated_at
    return MerchantSettings(
        display_name=merchant.display_name,
        logo_url=merchant.logo_url,
        brand_color=merchant.brand_color,
        accent_color=merchant.accent_color,
        support_email=merchant.support_email,
        support_phone=merchant.support_phone,
        legal_footer=merchant.legal_footer,
        identity_check=merchant.identity_check,  # type: ignore[arg-type]
        plan_rules=PlanRules(
            min_installments=int(plan.min_installments),
            max_installments=int(plan.max_installments),
            min_installment_amount=int(plan.min_installment_amount),
            max_days_to_promise=int(plan.max_days_to_promise),
            min_payment_amount=int(plan.min_payment_amount),
            max_days_to_move=int(plan.max_days_to_move),
        ),
        contact_window=ContactWindow(start=str(window.start), end=str(window.end)),
        max_contacts_per_week=int(merchant.max_contacts_per_week),
        max_sms_segments=int(merchant.max_sms_segments),
        updated_at=None if updated is None else updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def merge(current: MerchantSettings, patch: SettingsPatch) -> MerchantSettings:
    """`current` with the fields `patch` names replaced; nested objects merge field by field."""
    merged = current.model_dump()
    for name in patch.model_fields_set:
        value = getattr(patch, name)
        if isinstance(value, BaseModel):
            merged[name] = {**merged[name], **value.model_dump(include=value.model_fields_set)}
        else:
            merged[name] = value
    return MerchantSettings.model_validate(merged)


def check_rules(settings: MerchantSettings, patch: SettingsPatch) -> None:
    """Rules that span fields, checked on the merged settings; the error names the field to fix."""
    plan = settings.plan_rules
    if plan.max_installments < plan.min_installments:
        sent = patch.plan_rules.model_fields_set if patch.plan_rules else set()
        field = "min_installments" if sent == {"min_installments"} else "max_installments"
        raise ValidationFailed(
            f"max_installments ({plan.max_installments}) must be at least min_installments ({plan.min_installments}).",
            field=f"plan_rules.{field}",
        )
    window = settings.contact_window
    if not window.start < window.end:
        sent = patch.contact_window.model_fields_set if patch.contact_window else set()
        field = "start" if sent == {"start"} else "end"
        raise ValidationFailed(
            f"The contact window must start before it ends ({window.start}–{window.end}).",
            field=f"contact_window.{field}",
        )


def _actions(patch: SettingsPatch, merged: MerchantSettings) -> list[Any]:
    actions: list[Any] = []
    for name in sorted(patch.model_fields_set):
        attribute = getattr(Merchant, name)
        if name == "plan_rules":
            actions.append(attribute.set(merged.plan_rules.model_dump()))
        elif name == "contact_window":
            actions.append(attribute.set(merged.contact_window.model_dump()))
        elif getattr(merged, name) is None:
            actions.append(attribute.remove())
        else:
            actions.append(attribute.set(getattr(merged, name)))
    return actions


# ---------------------------------------------------------------- storage


def _load(merchant_id: str) -> Merchant:
    try:
        return Merchant.get(merchant_id, consistent_read=True)
    except Merchant.DoesNotExist:
        raise NotFound("No such merchant.") from None


def get_settings(merchant_id: str) -> dict[str, Any]:
    return settings_of(_load(merchant_id)).model_dump()


def update_settings(merchant_id: str, patch: SettingsPatch) -> dict[str, Any]:
    """Apply a partial update under the merchant's version; re-read and retry when it moved."""
    for _ in range(_ATTEMPTS):
        merchant = _load(merchant_id)
        merged = merge(settings_of(merchant), patch)
        check_rules(merged, patch)
        actions = _actions(patch, merged)
        if not actions:
            return merged.model_dump()
        actions.append(Merchant.updated_at.set(clock.now()))
        try:
            merchant.update(actions=actions)  # conditional on the version it read; increments it
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                continue
            raise
        forget_merchant(merchant_id)
        return settings_of(merchant).model_dump()
    raise Conflict("The settings were changed at the same time by another request; try again.")


def merchant_settings(merchant_id: str) -> MerchantSettings | None:
    """Settings for pages and the sender, through this container's merchant cache."""
    merchant = cached_merchant(merchant_id)
    return None if merchant is None else settings_of(merchant)


def apply_settings(merchant_id: str, **fields: Any) -> MerchantSettings:
    """Change settings from code (the demo seed) with the same validation as the API."""
    patch: SettingsPatch = parse(SettingsPatch, fields)
    return MerchantSettings.model_validate(update_settings(merchant_id, patch))
