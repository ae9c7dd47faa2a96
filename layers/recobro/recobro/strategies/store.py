"""A merchant's strategies in DynamoDB: immutable versions, the latest pointer, assignment rules.

A version is written once (PutItem with attribute_not_exists) together with the move of the
latest pointer, in one transaction, so two concurrent saves cannot both become version n. A save
whose text equals the latest version's makes no new version. New claims enrol under the latest
version of the strategy their segment is assigned to and keep it until migrated; version 0 is the
built-in default strategy (default.yaml), which every merchant has without saving anything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from recobro import clock
from recobro.channels import message_templates
from recobro.claims.amounts import installment_owed
from recobro.errors import NotFound, ValidationFailed
from recobro.reminders.schedule import parse_utc_iso, utc_iso
from recobro.storage.models import (
    Claim,
    Debtor,
    StrategyAssignments,
    StrategyPointer,
    StrategyVersion,
)
from recobro.storage.transactions import TransactionConflict, Write, commit
from recobro.strategies.builtin import built_in, built_in_text
from recobro.strategies.engine import ClaimFacts, InstallmentFacts
from recobro.strategies.parser import Path, StrategyInvalid, errors_at, parse_strategy
from recobro.strategies.schema import CHANNELS, NAME_PATTERN, SEGMENT_PATTERN, Strategy

DEFAULT_NAME = "default"
BUILT_IN_VERSION = 0
DEFAULT_SEGMENT = "default"
ASSIGNMENTS_KEY = "#assignments"
MAX_RULES = 100


def _version_key(name: str, version: int) -> str:
    return f"{name}#{version:06d}"


def _pointer_key(name: str) -> str:
    return f"{name}#latest"


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValidationFailed(
            "A strategy name is 1 to 64 lower-case letters, digits, _ and -, starting with a letter or digit.",
            field="name",
        )
    return name


def _known_name(name: str) -> str:
    """A name from a URL: one that cannot exist is simply not found."""
    try:
        return check_name(name)
    except ValidationFailed:
        raise NotFound("No such strategy.") from None


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class StoredStrategy:
    name: str
    version: int
    text: str
    checksum: str
    created_at: str | None  # None for the built-in default

    @property
    def built_in(self) -> bool:
        return self.version == BUILT_IN_VERSION

    @property
    def strategy(self) -> Strategy:
        return _parsed(self.text)


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> Strategy:
    """Versions never change, so each text is parsed once per process."""
    return parse_strategy(text)


def _built_in_stored() -> StoredStrategy:
    return StoredStrategy(DEFAULT_NAME, BUILT_IN_VERSION, built_in_text(), checksum(built_in_text()), None)


def _stored(item: StrategyVersion) -> StoredStrategy:
    return StoredStrategy(item.name, int(item.number), item.document, item.checksum, utc_iso(item.created_at))


def _pointer(merchant_id: str, name: str, consistent: bool = False) -> StrategyPointer | None:
    try:
        return StrategyPointer.get(merchant_id, _pointer_key(name), consistent_read=consistent)
    except StrategyPointer.DoesNotExist:
        return None


def latest_version(merchant_id: str, name: str) -> int | None:
    """The latest saved version, 0 for a default never saved, None for a strategy that does not exist."""
    pointer = _pointer(merchant_id, name)
    if pointer is not None:
        return int(pointer.latest_version)
    return BUILT_IN_VERSION if name == DEFAULT_NAME else None


# A saved version never changes, so a container reads each one at most once (the sender and the
# planner ask for a claim's version on every reminder).
MAX_CACHED_VERSIONS = 1024
_versions: dict[tuple[str, str, int], StoredStrategy] = {}


def get_strategy(merchant_id: str, name: str, version: int | None = None) -> StoredStrategy:
    """A version of the merchant's strategy (the latest if none is asked for); 404 otherwise."""
    _known_name(name)
    if version is None:
        version = latest_version(merchant_id, name)
        if version is None:
            raise NotFound("No such strategy.")
    if version == BUILT_IN_VERSION:
        if name != DEFAULT_NAME:
            raise NotFound("No such strategy version.")
        return _built_in_stored()
    cached = _versions.get((merchant_id, name, version))
    if cached is not None:
        return cached
    try:
        stored = _stored(StrategyVersion.get(merchant_id, _version_key(name, version)))
    except StrategyVersion.DoesNotExist:
        raise NotFound("No such strategy version.") from None
    if len(_versions) >= MAX_CACHED_VERSIONS:
        _versions.clear()
    _versions[(merchant_id, name, version)] = stored
    return stored


def list_versions(merchant_id: str, name: str, limit: int = 20, starting_after: int | None = None) -> dict[str, Any]:
    """The strategy's versions, newest first; a default never saved lists the built-in one."""
    _known_name(name)
    upper = (starting_after - 1) if starting_after is not None else 999_999
    items = []
    if upper >= 1:
        query = StrategyVersion.query(
            merchant_id,
            StrategyVersion.strategy_key.between(_version_key(name, 1), _version_key(name, upper)),
            scan_index_forward=False,
            limit=limit + 1,
        )
        items = [_stored(item) for item in query]
    has_more = len(items) > limit
    versions = items[:limit]
    if not has_more and name == DEFAULT_NAME and len(versions) < limit:
        versions.append(_built_in_stored())
    if not versions and starting_after is None and latest_version(merchant_id, name) is None:
        raise NotFound("No such strategy.")
    return {"object": "list", "data": [version_summary(v) for v in versions], "has_more": has_more}


def version_summary(stored: StoredStrategy) -> dict[str, Any]:
    return {
        "name": stored.name,
        "version": stored.version,
        "description": stored.strategy.description,
        "checksum": stored.checksum,
        "built_in": stored.built_in,
        "created_at": stored.created_at,
    }


def strategy_view(stored: StoredStrategy, created: bool | None = None) -> dict[str, Any]:
    strategy = stored.strategy
    view = {
        "object": "strategy",
        **version_summary(stored),
        "yaml": stored.text,
        "steps": [
            {
                "step": step.step_id,
                "day": step.day,
                "channel": step.channel,
                "hour": step.send_hour,
                "templates": [v.template for v in step.variants],
                "control": step.control.template,
                "conditions": dict(step.conditions),
                "early_payment_offer": step.early_payment_offer.model_dump() if step.early_payment_offer else None,
            }
            for step in strategy.ordered_steps()
        ],
    }
    if created is not None:
        view["created"] = created
    return view


# ---------------------------------------------------------------- saving


def _invalid(invalid: StrategyInvalid) -> ValidationFailed:
    first = invalid.errors[0]
    return ValidationFailed(
        f"Line {first.line}, column {first.column}: {first.message}",
        field="yaml",
        line=first.line,
        column=first.column,
        pointer=first.pointer,
        errors=[e.as_dict() for e in invalid.errors],
    )


def missing_templates(strategy: Strategy, have: set[tuple[str, str]]) -> list[tuple[Path, str]]:
    """(path of the `template:` value, message) for every variant whose template is not in `have`."""
    return [
        (
            ("steps", index, "variants", number, "template"),
            f"no {step.channel} template is named '{variant.template}'; "
            f"save it first (PUT /v1/templates/{step.channel}/{variant.template})",
        )
        for index, step in enumerate(strategy.steps)
        for number, variant in enumerate(step.variants)
        if (step.channel, variant.template) not in have
    ]


def save_strategy(merchant_id: str, name: str, text: str) -> tuple[StoredStrategy, bool]:
    """Validate and save `text` as the next version of `name`; (the latest version, whether it is new).
    Every variant must name a template of its step's channel: built in or one the merchant saved."""
    check_name(name)
    try:
        strategy = parse_strategy(text)
    except StrategyInvalid as invalid:
        raise _invalid(invalid) from None
    if strategy.name != name:
        raise ValidationFailed(
            f"The document is named '{strategy.name}' but saved as '{name}'; the two must agree.", field="yaml"
        )
    wanted = {(step.channel, variant.template) for step in strategy.steps for variant in step.variants}
    missing = missing_templates(strategy, message_templates.existing(merchant_id, wanted))
    if missing:
        raise _invalid(errors_at(text, missing))
    digest = checksum(text)
    for _ in range(5):
        pointer = _pointer(merchant_id, name, consistent=True)
        if pointer is not None and pointer.checksum == digest:
            return get_strategy(merchant_id, name, int(pointer.latest_version)), False
        previous = int(pointer.latest_version) if pointer is not None else 0
        now = clock.now()
        version = StrategyVersion(
            merchant_id=merchant_id,
            strategy_key=_version_key(name, previous + 1),
            name=name,
            number=previous + 1,
            document=text,
            checksum=digest,
            description=strategy.description or None,
            created_at=now,
        )
        moved = StrategyPointer(
            merchant_id=merchant_id,
            strategy_key=_pointer_key(name),
            name=name,
            latest_version=previous + 1,
            checksum=digest,
            updated_at=now,
        )
        pointer_condition = (
            StrategyPointer.strategy_key.does_not_exist()
            if pointer is None
            else StrategyPointer.latest_version == previous
        )
        try:
            commit(
                [
                    Write(version, condition=StrategyVersion.strategy_key.does_not_exist()),
                    Write(moved, condition=pointer_condition),
                ]
            )
        except TransactionConflict:
            continue  # another save won this version number: look again
        forget_enrolment(merchant_id)
        return _stored(version), True
    raise ValidationFailed("The strategy is being saved by another request; try again.", field="yaml")


# ---------------------------------------------------------------- assignment rules


class AssignmentRule(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    segment: StrictStr = Field(pattern=SEGMENT_PATTERN)
    strategy: StrictStr = Field(pattern=NAME_PATTERN)


class AssignmentsIn(BaseModel):
    """Which strategy new claims enrol under: the first rule whose segment matches, else the default."""

    model_config = ConfigDict(extra="forbid", strict=True)

    default_strategy: StrictStr = Field(DEFAULT_NAME, pattern=NAME_PATTERN)
    rules: list[AssignmentRule] = Field(default_factory=list, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _segments_once(self) -> AssignmentsIn:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.segment in seen:
                raise ValueError(f"segment '{rule.segment}' has two rules")
            seen.add(rule.segment)
        return self


def _assignments(merchant_id: str) -> StrategyAssignments | None:
    try:
        return StrategyAssignments.get(merchant_id, ASSIGNMENTS_KEY)
    except StrategyAssignments.DoesNotExist:
        return None


def assignments_view(item: StrategyAssignments | None) -> dict[str, Any]:
    return {
        "object": "strategy_assignments",
        "default_strategy": item.default_strategy if item else DEFAULT_NAME,
        "rules": json.loads(item.rules) if item else [],
        "updated_at": utc_iso(item.updated_at) if item else None,
    }


def get_assignments(merchant_id: str) -> dict[str, Any]:
    return assignments_view(_assignments(merchant_id))


def put_assignments(merchant_id: str, body: AssignmentsIn) -> dict[str, Any]:
    """Replace the rules; every strategy they name must exist (the default always does)."""
    named = [("default_strategy", body.default_strategy)] + [
        (f"rules[{n}].strategy", rule.strategy) for n, rule in enumerate(body.rules)
    ]
    for field, name in named:
        if latest_version(merchant_id, name) is None:
            raise ValidationFailed(f"No strategy is named '{name}'; save it first.", field=field)
    for _ in range(5):
        current = _assignments(merchant_id)
        item = current or StrategyAssignments(merchant_id=merchant_id, strategy_key=ASSIGNMENTS_KEY)
        item.rules = json.dumps([rule.model_dump() for rule in body.rules])
        item.default_strategy = body.default_strategy
        item.updated_at = clock.now()
        try:
            commit([Write(item)])  # conditional on its version attribute
        except TransactionConflict:
            continue
        forget_enrolment(merchant_id)
    return assignments_view(item)
    raise ValidationFailed("The rules are being changed by another request; try again.")


ENROLMENT_CACHE_SECONDS = 60.0
_enrolment_cache: dict[str, tuple[float, tuple[StrategyAssignments | None, StrategyPointer | None]]] = {}


def _cached_rules_and_default(merchant_id: str) -> tuple[StrategyAssignments | None, StrategyPointer | None]:
    """The rules and default pointer, reread at most once a minute per container: creating many
    claims (bulk) costs no extra request per claim. A change takes effect here at once (see
    forget_enrolment) and in other containers within a minute."""
    now = time.monotonic()
    cached = _enrolment_cache.get(merchant_id)
    if cached is not None and now - cached[0] < ENROLMENT_CACHE_SECONDS:
        return cached[1]
    value = _rules_and_default(merchant_id)
    _enrolment_cache[merchant_id] = (now, value)
    return value


def forget_enrolment(merchant_id: str) -> None:
    _enrolment_cache.pop(merchant_id, None)


def _rules_and_default(merchant_id: str) -> tuple[StrategyAssignments | None, StrategyPointer | None]:
    """The assignment rules and the "default" pointer in one BatchGetItem: what enrolling a claim
    usually needs (both items share the table, so one request fetches both)."""
    keys = [
        {"merchant_id": {"S": merchant_id}, "strategy_key": {"S": key}}
        for key in (ASSIGNMENTS_KEY, _pointer_key(DEFAULT_NAME))
    ]
    table = StrategyAssignments.Meta.table_name
    found: dict[str, Any] = {}
    for _ in range(5):
        answer = _client().batch_get_item(RequestItems={table: {"Keys": keys}})
        for raw in answer.get("Responses", {}).get(table, []):
            found[raw["strategy_key"]["S"]] = raw
        keys = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        if not keys:
            break
    rules, default = found.get(ASSIGNMENTS_KEY), found.get(_pointer_key(DEFAULT_NAME))
    return (
        StrategyAssignments.from_raw_data(rules) if rules else None,
        StrategyPointer.from_raw_data(default) if default else None,
    )


def _client() -> Any:
    """The botocore client of the models' own connection (same endpoint, retries and counting)."""
    return StrategyAssignments._get_connection().connection.client


def enrolment(merchant_id: str, segment: str) -> tuple[str, int]:
    """(strategy, version) a new claim of `segment` enrols under; usually one request."""
    item, default_pointer = _cached_rules_and_default(merchant_id)
    name = item.default_strategy if item else DEFAULT_NAME
    for rule in json.loads(item.rules) if item else []:
        if rule["segment"] == segment:
            name = str(rule["strategy"])
            break
    if name == DEFAULT_NAME:
        return name, int(default_pointer.latest_version) if default_pointer else BUILT_IN_VERSION
    version = latest_version(merchant_id, name)
    if version is None:  # rules name only saved strategies, and strategies are never deleted
        return DEFAULT_NAME, int(default_pointer.latest_version) if default_pointer else BUILT_IN_VERSION
    return name, version


# ---------------------------------------------------------------- claims


def segment_of(metadata: dict[str, Any]) -> str:
    """A claim's segment: metadata.segment when it is a valid segment name, else "default"."""
    value = metadata.get("segment")
    if isinstance(value, str) and re.fullmatch(SEGMENT_PATTERN, value):
        return value
    return DEFAULT_SEGMENT


def enrol(claim: Claim) -> None:
    """Set the claim's segment and the strategy version it is collected under (before it is saved)."""
    metadata = claim.metadata.as_dict() if claim.metadata is not None else {}  # type: ignore[no-untyped-call]
    claim.segment = segment_of(metadata)
    claim.strategy, claim.strategy_version = enrolment(claim.merchant_id, claim.segment)


def claim_strategy(claim: Claim) -> Strategy:
    """The version the claim enrolled under (the built-in default for claims older than strategies)."""
    if claim.strategy is None or claim.strategy_version is None:
        return built_in()
    return get_strategy(claim.merchant_id, claim.strategy, int(claim.strategy_version)).strategy


def channels_of(debtor: Debtor | None) -> tuple[frozenset[str], frozenset[str]]:
    """(channels the debtor can be reached on, channels they opted out of)."""
    if debtor is None:
        return frozenset(), frozenset()
    opted_out = frozenset(debtor.opted_out_channels or ())
    reachable = {"email"} if debtor.email else set()
    if debtor.phone:
        reachable |= {"sms", "whatsapp"}
    return frozenset(c for c in CHANNELS if c in reachable and c not in opted_out), opted_out


def facts_for(claim: Claim, debtor: Debtor | None) -> ClaimFacts:
    """What the strategy engine needs to know about a claim: all of it on the claim and debtor
    items the sender reads anyway (engagement with the latest message is kept on the claim)."""
    from recobro.claims.promises import state_of  # promises imports claims.service, which imports us

    available, opted_out = channels_of(debtor)
    promise = state_of(claim)
    return ClaimFacts(
        claim_id=claim.claim_id,
        timezone=claim.timezone,
        installments=tuple(
            InstallmentFacts(int(i.number), date.fromisoformat(i.due_date), installment_owed(i))
            for i in claim.installments
        ),
        status=claim.status,
        segment=claim.segment or DEFAULT_SEGMENT,
        score_band=None,  # scoring (issue #7) fills it
        locale=debtor.locale if debtor else "en",
        channels_available=available,
        opted_out_channels=opted_out,
        last_message_opened=bool(claim.last_message_opened),
        last_message_clicked=bool(claim.last_message_clicked),
        promise_state=promise or "none",
        promise_due=date.fromisoformat(claim.promise.due_date) if promise == "active" and claim.promise else None,
        plan_active=claim.plan is not None and claim.plan.status == "active",
        reminded_through=parse_utc_iso(claim.reminded_through) if claim.reminded_through else None,
    )


class MigrateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    claim_ids: list[StrictStr] = Field(min_length=1, max_length=100)
    version: StrictInt | None = Field(None, ge=0, le=999_999)


def migrate(merchant_id: str, name: str, body: MigrateIn) -> dict[str, Any]:
    """Move the listed claims to a version of `name` (the latest by default), each under its version;
    each claim's next reminder becomes the new version's next step."""
    from recobro.claims.service import schedule_next_reminder  # claims.service imports this module

    stored = get_strategy(merchant_id, name, body.version)
    migrated, not_found = [], []
    for claim_id in dict.fromkeys(body.claim_ids):
        for _ in range(5):
            try:
                claim = Claim.get(merchant_id, claim_id, consistent_read=True) if claim_id.startswith("clm_") else None
            except Claim.DoesNotExist:
                claim = None
            if claim is None:
                not_found.append(claim_id)
                break
            claim.strategy, claim.strategy_version = stored.name, stored.version
            claim.updated_at = clock.now()
            schedule_next_reminder(claim)  # the next step is the new version's
            try:
                commit([Write(claim)])
            except TransactionConflict:
                continue
            migrated.append(claim_id)
            break
    return {
        "object": "strategy_migration",
        "strategy": stored.name,
        "version": stored.version,
        "migrated": migrated,
        "not_found": not_found,
    }
