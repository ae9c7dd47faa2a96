"""The merchant API's strategy operations: request and response models, and what each one does.

PUT takes the YAML as a JSON string ({"yaml": "..."}), like every other body of this API, so one
Content-Type, one size limit and one Idempotency story hold everywhere. Simulation runs over the
merchant's newest claims (by_merchant_created, newest first, bounded) or a synthetic sample.
"""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from recobro import clock
from recobro.reminders.schedule import DEFERRED_SEND_AT_LOCAL
from recobro.storage.models import Claim, Debtor, Merchant
from recobro.strategies import store
from recobro.strategies.parser import MAX_YAML_BYTES
from recobro.strategies.simulate import ContactRules, simulate, synthetic_claims

MAX_SIMULATED_CLAIMS = 100
MAX_SYNTHETIC_CLAIMS = 200


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- requests


class StrategyIn(_In):
    yaml: StrictStr = Field(min_length=1, max_length=MAX_YAML_BYTES, description="The strategy document, as YAML.")


class VersionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # query values arrive as strings

    version: int | None = Field(None, ge=0, le=999_999, description="A saved version; the latest if left out.")


class VersionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(20, ge=1, le=100)
    starting_after: int | None = Field(None, ge=1, le=999_999, description="The last version of the previous page.")


class SimulateIn(_In):
    version: StrictInt | None = Field(None, ge=0, le=999_999, description="The version to run; the latest if left out.")
    claims: StrictInt = Field(20, ge=1, le=MAX_SIMULATED_CLAIMS, description="How many of your newest claims.")
    synthetic: StrictInt | None = Field(
        None, ge=1, le=MAX_SYNTHETIC_CLAIMS, description="Run over this many generated claims instead of yours."
    )
    seed: StrictInt = Field(0, ge=0, le=2**31 - 1, description="The generated sample's seed.")


# ---------------------------------------------------------------- responses


class StepOut(_Out):
    step: str
    day: int
    channel: Literal["email", "sms", "whatsapp"]
    hour: int
    templates: list[str]
    control: str
    conditions: dict[str, dict[str, Any]]
    early_payment_offer: dict[str, int] | None


class VersionOut(_Out):
    name: str
    version: int = Field(description="0 is the built-in default strategy.")
    description: str
    checksum: str
    built_in: bool
    created_at: str | None


class StrategyOut(VersionOut):
    object: Literal["strategy"]
    yaml: str
    steps: list[StepOut]
    created: bool | None = Field(None, description="On PUT: whether this request saved a new version.")


class VersionList(_Out):
    object: Literal["list"]
    data: list[VersionOut]
    has_more: bool


class AssignmentRuleOut(_Out):
    segment: str
    strategy: str


class AssignmentsOut(_Out):
    object: Literal["strategy_assignments"]
    default_strategy: str
    rules: list[AssignmentRuleOut]
    updated_at: str | None


class VariantOut(_Out):
    template: str
    weight: int
    control: bool


class SimulatedStep(_Out):
    installment: int
    step: str
    day: int
    channel: str
    planned_at: str
    planned_at_local: str
    outcome: Literal["send", "deferred", "blocked", "skipped"]
    send_at: str | None
    send_at_local: str | None
    rule: str | None
    reason: str | None
    failed_conditions: list[str]
    variants: list[VariantOut]
    early_payment_offer: dict[str, int] | None


class SimulatedClaim(_Out):
    claim_id: str
    facts: dict[str, Any]
    steps: list[SimulatedStep]


class SimulationOut(_Out):
    object: Literal["strategy_simulation"]
    strategy: str
    version: int
    source: Literal["claims", "synthetic"]
    now: str
    totals: dict[str, int]
    by_channel: dict[str, dict[str, int]]
    claims: list[SimulatedClaim]


class MigrationOut(_Out):
    object: Literal["strategy_migration"]
    strategy: str
    version: int
    migrated: list[str]
    not_found: list[str]


# ---------------------------------------------------------------- operations


def _out(model: type[BaseModel], value: dict[str, Any]) -> dict[str, Any]:
    return model.model_validate(value).model_dump(mode="json")


def put_strategy(merchant_id: str, name: str, body: StrategyIn) -> dict[str, Any]:
    stored, created = store.save_strategy(merchant_id, name, body.yaml)
    return _out(StrategyOut, store.strategy_view(stored, created))


def get_strategy(merchant_id: str, name: str, query: VersionQuery) -> dict[str, Any]:
    return _out(StrategyOut, store.strategy_view(store.get_strategy(merchant_id, name, query.version)))


def list_versions(merchant_id: str, name: str, query: VersionsQuery) -> dict[str, Any]:
    return _out(VersionList, store.list_versions(merchant_id, name, query.limit, query.starting_after))


def contact_rules(merchant: Merchant | None) -> ContactRules:
    if merchant is None:
        return ContactRules()
    start, end = (time.fromisoformat(text) for text in (merchant.contact_window.start, merchant.contact_window.end))
    return ContactRules(
        window_start=start,
        window_end=end,
        deferred_send_at=max(DEFERRED_SEND_AT_LOCAL, start),
        max_contacts_per_week=int(merchant.max_contacts_per_week),
    )


def _merchant(merchant_id: str) -> Merchant | None:
    try:
        return Merchant.get(merchant_id)
    except Merchant.DoesNotExist:
        return None


def _own_claims(merchant_id: str, count: int) -> list[Any]:
    """The merchant's newest claims with their facts: one Query for the claims and one BatchGetItem
    for their debtors (engagement with the last message is kept on the claim)."""
    claims = list(Claim.by_merchant_created.query(merchant_id, scan_index_forward=False, limit=count))[:count]
    keys = {(merchant_id, c.debtor_id) for c in claims}
    debtors = {d.debtor_id: d for d in Debtor.batch_get(list(keys))} if keys else {}
    return [store.facts_for(claim, debtors.get(claim.debtor_id)) for claim in claims]


def simulate_strategy(merchant_id: str, name: str, body: SimulateIn) -> dict[str, Any]:
    stored = store.get_strategy(merchant_id, name, body.version)
    now = clock.now()
    if body.synthetic is not None:
        facts = synthetic_claims(body.synthetic, now, body.seed, sorted(_segments(merchant_id)))
    else:
        facts = _own_claims(merchant_id, body.claims)
    result = simulate(stored.strategy, facts, now, contact_rules(_merchant(merchant_id)))
    result.update(version=stored.version, source="synthetic" if body.synthetic is not None else "claims")
    return _out(SimulationOut, result)


def _segments(merchant_id: str) -> set[str]:
    rules = store.get_assignments(merchant_id)["rules"]
    return {store.DEFAULT_SEGMENT} | {str(rule["segment"]) for rule in rules}


def get_assignments(merchant_id: str) -> dict[str, Any]:
    return _out(AssignmentsOut, store.get_assignments(merchant_id))


def put_assignments(merchant_id: str, body: store.AssignmentsIn) -> dict[str, Any]:
    return _out(AssignmentsOut, store.put_assignments(merchant_id, body))


def migrate(merchant_id: str, name: str, body: store.MigrateIn) -> dict[str, Any]:
    return _out(MigrationOut, store.migrate(merchant_id, name, body))
