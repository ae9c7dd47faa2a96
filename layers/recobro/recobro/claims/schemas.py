"""The merchant API's request bodies for claims, validated strictly.

These pydantic models are the contract: they validate requests and (issue #4) generate the
OpenAPI document, so the two cannot disagree. Money is a strict positive integer in minor
units; strings, floats and booleans are refused rather than coerced.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from itertools import pairwise
from typing import Annotated, Any
from zoneinfo import available_timezones

from babel import Locale, UnknownLocaleError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from recobro.errors import ValidationFailed
from recobro.money import MAX_MINOR_UNITS, is_currency
from recobro.validation import PlainText, WholeNumber, e164_phone, email_address

EARLIEST_DUE_DATE = date(2000, 1, 1)
LATEST_DUE_DATE = date(2100, 12, 31)
MAX_INSTALLMENTS = 60
_PRINTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-/#]{1,128}$")


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    """Real zone names only: no folders such as "Europe", no "localtime" or "Factory"."""
    return frozenset(available_timezones() - {"localtime", "Factory", "posixrules"})


ExternalId = Annotated[StrictStr, Field(min_length=1, max_length=128, pattern=_PRINTABLE_ID.pattern)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DebtorIn(_Strict):
    external_id: ExternalId
    name: Annotated[PlainText, Field(min_length=1, max_length=200)]
    email: Annotated[StrictStr, Field(max_length=254)] | None = None
    phone: Annotated[StrictStr, Field(max_length=20)] | None = None
    locale: Annotated[StrictStr, Field(max_length=35)] = "en-GB"
    timezone: Annotated[StrictStr, Field(max_length=64)] = "UTC"
    date_of_birth: date | None = None

    @field_validator("date_of_birth", mode="before")
    @classmethod
    def _iso_birth_date(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
            raise ValueError("a calendar date written YYYY-MM-DD")
        return value

    postal_code: Annotated[StrictStr, Field(min_length=1, max_length=16)] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else email_address(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else e164_phone(value)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", value):
            raise ValueError("a BCP 47 language tag such as es-ES")
        try:
            parsed = Locale.parse(value.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            raise ValueError("an unknown locale") from None
        return "-".join(p for p in (parsed.language, parsed.script, parsed.territory) if p)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", value):
            raise ValueError("an IANA timezone such as Europe/Madrid")
        if value not in _iana_zones():
            raise ValueError("an unknown IANA timezone")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> DebtorIn:
        if self.email is None and self.phone is None:
            raise ValueError("a debtor needs an email or a phone number")
        return self


class InstallmentIn(_Strict):
    number: Annotated[WholeNumber, Field(ge=1, le=MAX_INSTALLMENTS)]
    due_date: date
    amount: Annotated[WholeNumber, Field(gt=0, le=MAX_MINOR_UNITS)]

    @field_validator("due_date", mode="before")
    @classmethod
    def _iso_date_only(cls, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("a calendar date written YYYY-MM-DD")
        return value

    @field_validator("due_date")
    @classmethod
    def _due_date(cls, value: date) -> date:
        if not EARLIEST_DUE_DATE <= value <= LATEST_DUE_DATE:
            raise ValueError(f"due dates lie between {EARLIEST_DUE_DATE} and {LATEST_DUE_DATE}")
        return value


class ClaimCreate(_Strict):
    external_id: ExternalId
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)]
    description: Annotated[PlainText, Field(min_length=1, max_length=500)]
    debtor: DebtorIn
    installments: Annotated[list[InstallmentIn], Field(min_length=1, max_length=MAX_INSTALLMENTS)]
    metadata: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=40)], Annotated[PlainText, Field(max_length=500)]],
        Field(max_length=50),
    ] = Field(default_factory=dict)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError("an ISO 4217 currency code in use today, upper case, such as EUR")
        return value

    @field_validator("installments")
    @classmethod
    def _numbered_in_order(cls, value: list[InstallmentIn]) -> list[InstallmentIn]:
        for position, installment in enumerate(value, start=1):
            if installment.number != position:
                raise ValueError("installments are numbered 1, 2, 3... in order")
        for earlier, later in pairwise(value):
            if later.due_date < earlier.due_date:
                raise ValueError("an installment cannot fall due before the one it follows")
        if sum(i.amount for i in value) > MAX_MINOR_UNITS:
            raise ValueError("the claim's total is too large")
        return value


def field_path(location: tuple[int | str, ...]) -> str:
    """('installments', 1, 'amount') -> 'installments[1].amount'."""
    path = ""
    for part in location:
        if part in ("", "[key]"):  # pydantic's marker for a bad dict key, and an empty key
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def parse(model: type[BaseModel], body: Any) -> Any:
    """Validate a decoded JSON body, raising ValidationFailed naming the first bad field."""
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        location = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "Unknown field."
        raise ValidationFailed(message, field=field_path(location) or None) from None
