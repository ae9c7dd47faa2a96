"""What a strategy document may say: its fields, the condition fields and their operators.

The pydantic models below check the shape and the types; recobro.strategies.parser adds the
rules that span fields (one control variant, no two steps on one day and channel) and maps every
error back to the line and column of the YAML it came from. The condition fields are a fixed,
documented set so a strategy cannot depend on data the engine does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

Channel = Literal["email", "sms", "whatsapp"]
CHANNELS: tuple[str, ...] = ("email", "sms", "whatsapp")
Operator = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in"]
OPERATORS: tuple[str, ...] = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in")
EQUALITY_OPERATORS: tuple[str, ...] = ("eq", "ne", "in", "not_in")
SCORE_BANDS: tuple[str, ...] = ("A", "B", "C", "D", "E")  # A: most likely to pay
PROMISE_STATES: tuple[str, ...] = ("none", "active", "kept", "broken")

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
TEMPLATE_PATTERN = NAME_PATTERN
# Any language and line breaks, no control characters (YAML reads \x85 and \u2028 as line breaks).
DESCRIPTION_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]*$"
SEGMENT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
EARLIEST_DAY = -30
LATEST_DAY = 365
MAX_STEPS = 50
MAX_VARIANTS = 8
MAX_LIST_VALUES = 50
DEFAULT_HOUR = 9  # local time, when a step states none


@dataclass(frozen=True)
class ConditionField:
    """One fact a condition may test: its value type and the operators that make sense on it."""

    name: str
    kind: Literal["int", "str", "bool", "channel"]
    operators: tuple[str, ...]
    description: str
    choices: tuple[str, ...] = ()  # allowed values for a closed set of strings


CONDITION_FIELDS: dict[str, ConditionField] = {
    f.name: f
    for f in (
        ConditionField(
            "amount_due",
            "int",
            OPERATORS,
            "Minor units owed by the step's installment due date (that installment and any earlier ones).",
        ),
        ConditionField(
            "days_past_due",
            "int",
            OPERATORS,
            "Days since the oldest unpaid installment fell due, on the step's day; negative before it.",
        ),
        ConditionField("installment_number", "int", OPERATORS, "The number of the installment the step is for (1..)."),
        ConditionField("segment", "str", EQUALITY_OPERATORS, "The claim's segment (metadata.segment, else default)."),
        ConditionField("score_band", "str", EQUALITY_OPERATORS, "The claim's score band, A (best) to E.", SCORE_BANDS),
        ConditionField(
            "locale",
            "str",
            EQUALITY_OPERATORS,
            "The debtor's locale; a value without a region (es) matches every region (es-ES, es-MX).",
        ),
        ConditionField(
            "channel_available",
            "channel",
            EQUALITY_OPERATORS,
            "A channel with contact data and no opt-out: eq/in = available, ne/not_in = not available.",
            CHANNELS,
        ),
        ConditionField("last_message_opened", "bool", ("eq", "ne"), "Whether the last message sent was opened."),
        ConditionField("last_message_clicked", "bool", ("eq", "ne"), "Whether the last message sent was clicked."),
        ConditionField(
            "promise_state",
            "str",
            EQUALITY_OPERATORS,
            "The debtor's latest promise: none, active, kept or broken.",
            PROMISE_STATES,
        ),
    )
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Variant(_Strict):
    """A template the step may send; the control is what the holdout always gets."""

    template: Annotated[StrictStr, Field(pattern=TEMPLATE_PATTERN)]
    weight: Annotated[StrictInt, Field(ge=1, le=1000)] = 1
    control: StrictBool = False


class EarlyPaymentOffer(_Strict):
    """A discount for paying the installment in full by its due date (pre-due steps only)."""

    discount_percent: Annotated[StrictInt, Field(ge=1, le=50)]


# field -> {operator: value}; every operator of every field must hold. The parser checks fields,
# operators and value types against CONDITION_FIELDS (pydantic would word those errors poorly).
Conditions = dict[StrictStr, Any]


class Step(_Strict):
    day: Annotated[StrictInt, Field(ge=EARLIEST_DAY, le=LATEST_DAY)]
    channel: Channel
    hour: Annotated[StrictInt, Field(ge=0, le=23)] | None = None
    conditions: Conditions = Field(default_factory=dict)
    variants: Annotated[list[Variant], Field(min_length=1, max_length=MAX_VARIANTS)]
    early_payment_offer: EarlyPaymentOffer | None = None

    @property
    def step_id(self) -> str:
        """Stable per strategy: message keys and decisions use it ("d-3.email", "d+15.whatsapp")."""
        return f"d{self.day:+d}.{self.channel}"

    @property
    def send_hour(self) -> int:
        return DEFAULT_HOUR if self.hour is None else self.hour

    @property
    def control(self) -> Variant:
        return next(v for v in self.variants if v.control)


class Strategy(_Strict):
    name: Annotated[StrictStr, Field(pattern=NAME_PATTERN)]
    description: Annotated[StrictStr, Field(max_length=500, pattern=DESCRIPTION_PATTERN)] = ""
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS)]

    def ordered_steps(self) -> list[Step]:
        return sorted(self.steps, key=lambda s: (s.day, CHANNELS.index(s.channel)))


def dump(strategy: Strategy) -> dict[str, Any]:
    """The strategy as plain data, leaving out what equals its default (what a person would write)."""
    return strategy.model_dump(mode="json", exclude_defaults=True)
