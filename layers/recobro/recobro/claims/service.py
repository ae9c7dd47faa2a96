"""Creating and reading claims: one transaction per create, tenant-scoped reads.

A create writes the external-id marker, the claim and the debtor in one DynamoDB transaction,
so a failure at any point stores nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

from recobro import clock, config, events, links
from recobro.claims import early_payment
from recobro.claims.amounts import claim_owed, installment_owed
from recobro.claims.schemas import ClaimCreate, DebtorIn
from recobro.claims.views import (
    ClaimOut,
    DebtorSummary,
    EarlyPaymentOfferOut,
    HelpRequestOut,
    InstallmentOut,
    PlanOut,
    PromiseOut,
)
from recobro.errors import Conflict, NotFound
from recobro.ids import debtor_id_for, new_id
from recobro.reminders.schedule import (
    InstallmentDue,
    ReminderAction,
    action_shard,
    local_moment,
    next_action,
    parse_utc_iso,
    utc_iso,
    utc_iso_micro,
)
from recobro.storage.models import (
    EXTERNAL_REF_PREFIX,
    Claim,
    ClaimExternalRef,
    Debtor,
    InstallmentMap,
)
from recobro.storage.transactions import TransactionConflict, Write, commit
from recobro.strategies import store as strategies

OPEN_STATUSES = frozenset({"open", "partially_paid"})


def _answer_hash(salt: str, answer: str) -> str:
    normalised = "".join(answer.split()).casefold()
    return hashlib.sha256(f"{salt}:{normalised}".encode()).hexdigest()


def build_debtor(merchant_id: str, data: DebtorIn) -> tuple[Debtor, str | None]:
    """The debtor as this claim describes them, merged into what we already know.

    A returning customer keeps their id, creation time, salt, opt-outs and any verification
    answer this claim does not restate; contact data and language follow the newest claim.
    Also returns the timezone they had before, when it changes, so older claims can follow.
    """
    now = clock.now()
    debtor_id = debtor_id_for(merchant_id, data.external_id)
    try:
        known: Debtor | None = Debtor.get(merchant_id, debtor_id, consistent_read=True)
    except Debtor.DoesNotExist:
        known = None
    salt = known.verification_salt if known else secrets.token_hex(16)
    debtor = Debtor(
        merchant_id=merchant_id,
        debtor_id=debtor_id,
        external_id=data.external_id,
        name=data.name,
        email=data.email,
        phone=data.phone,
        locale=data.locale,
        timezone=data.timezone,
        verification_salt=salt,
        date_of_birth_hash=_answer_hash(salt, data.date_of_birth.isoformat())
        if data.date_of_birth
        else (known.date_of_birth_hash if known else None),
        postal_code_hash=_answer_hash(salt, data.postal_code)
        if data.postal_code
        else (known.postal_code_hash if known else None),
        opted_out_channels=known.opted_out_channels if known else None,
        created_at=known.created_at if known else now,
        updated_at=now,
    )
    moved_from = known.timezone if known and known.timezone != data.timezone else None
    return debtor, moved_from


def retime_claims(merchant_id: str, debtor: Debtor) -> None:
    """Move the reminders of every claim of the debtor to their (new) timezone."""
    for claim in Claim.by_debtor.query(debtor.debtor_id, filter_condition=Claim.merchant_id == merchant_id):
        for _ in range(5):
            if claim.timezone == debtor.timezone:
                break
            claim.timezone = debtor.timezone
            schedule_next_reminder(claim)
            try:
                commit([Write(claim)])
                break
            except TransactionConflict:
                claim = get_claim(merchant_id, claim.claim_id, consistent=True)


def installments_due(claim: Claim) -> list[InstallmentDue]:
    return [
        InstallmentDue(int(i.number), date.fromisoformat(i.due_date), installment_owed(i)) for i in claim.installments
    ]


def promise_pause_until(claim: Claim) -> datetime | None:
    """The morning after an open promise's date, while the promised amount has not arrived."""
    promise = claim.promise
    if promise is None or int(claim.amount_paid) - int(promise.amount_paid_before or 0) >= int(promise.amount):
        return None
    resume = local_moment(date.fromisoformat(promise.due_date) + timedelta(days=1), claim.timezone)
    return resume if resume > clock.now() else None


def send_time_of(claim: Claim) -> time | None:
    """The debtor's learned local send time, when tracking has learned one."""
    if not claim.send_time:
        return None
    hours, minutes = str(claim.send_time).split(":")
    return time(int(hours), int(minutes))


def upcoming_reminder(
    claim: Claim, now: datetime, reminded: datetime | None, paused_until: datetime | None = None
) -> ReminderAction | None:
    """The claim's next reminder under the strategy version it is collected with."""
    return next_action(
        installments_due(claim),
        claim.timezone,
        now,
        reminded,
        paused_until,
        strategy=strategies.claim_strategy(claim),
        send_time=send_time_of(claim),
    )


def schedule_next_reminder(claim: Claim) -> None:
    """Point the claim's time-index entry at its next reminder, or take it out of the index.

    A claim whose installment plan is on track (active) gets no overdue reminders: the plan's
    charges collect it. They resume once the plan is missed or cancelled.
    """
    reminded = parse_utc_iso(claim.reminded_through) if claim.reminded_through else None
    action = None
    plan_on_track = claim.plan is not None and claim.plan.status == "active"
    if claim.status in OPEN_STATUSES and not plan_on_track:
        action = upcoming_reminder(claim, clock.now(), reminded, promise_pause_until(claim))
    if action is None:
        claim.next_action = claim.next_action_at = claim.action_shard = None
    else:
        claim.next_action = action.key
        claim.next_action_at = utc_iso(action.at)
        claim.action_shard = action_shard(claim.claim_id)


def create_claim(merchant_id: str, data: ClaimCreate) -> tuple[Claim, Debtor]:
    now = clock.now()
    debtor, moved_from = build_debtor(merchant_id, data.debtor)
    claim = Claim(
        merchant_id=merchant_id,
        claim_id=new_id("clm"),
        external_id=data.external_id,
        debtor_id=debtor.debtor_id,
        currency=data.currency,
        description=data.description,
        status="open",
        installments=[
            InstallmentMap(number=i.number, due_date=i.due_date.isoformat(), amount=i.amount, amount_paid=0)  # type: ignore[no-untyped-call]
            for i in data.installments
        ],
        amount_total=sum(i.amount for i in data.installments),
        amount_paid=0,
        metadata=dict(data.metadata),
        timezone=debtor.timezone,
        created_at=now,
        updated_at=now,
    )
    claim.created_key = f"{utc_iso_micro(now)}#{claim.claim_id}"
    strategies.enrol(claim)
    schedule_next_reminder(claim)
    marker = ClaimExternalRef(
        merchant_id=merchant_id,
        claim_id=EXTERNAL_REF_PREFIX + data.external_id,
        target_claim_id=claim.claim_id,
    )
    created = events.Event("claim.created", merchant_id, claim.claim_id, event_data(claim))
    try:
        commit(
            [
                Write(marker, condition=ClaimExternalRef.claim_id.does_not_exist()),
                Write(claim),
                Write(debtor),
                Write(created.to_item()),
            ]
        )
    except TransactionConflict as conflict:
        if 0 in conflict.failed:
            existing = ClaimExternalRef.get(merchant_id, EXTERNAL_REF_PREFIX + data.external_id)
            raise Conflict(
                "A claim with this external_id already exists.",
                field="external_id",
                claim_id=existing.target_claim_id,
            ) from None
        raise
    events.published([created])
    if moved_from is not None:
        retime_claims(merchant_id, debtor)
    return claim, debtor


def event_data(claim: Claim) -> dict[str, Any]:
    """What events say about a claim: ids, status and amounts, no debtor contact data."""
    return {
        "claim_id": claim.claim_id,
        "external_id": claim.external_id,
        "debtor_id": claim.debtor_id,
        "status": claim.status,
        "currency": claim.currency,
        "amount_total": int(claim.amount_total),
        "amount_paid": int(claim.amount_paid),
        "amount_due": claim_owed(claim),
    }


def get_claim(merchant_id: str, claim_id: str, consistent: bool = False) -> Claim:
    """The merchant's own claim; another merchant's id is simply not found."""
    if not claim_id.startswith("clm_") or len(claim_id) > 64:
        raise NotFound("No such claim.")
    try:
        return Claim.get(merchant_id, claim_id, consistent_read=consistent)
    except Claim.DoesNotExist:
        raise NotFound("No such claim.") from None


def get_debtor(merchant_id: str, debtor_id: str) -> Debtor:
    try:
        return Debtor.get(merchant_id, debtor_id)
    except Debtor.DoesNotExist:
        raise NotFound("No such debtor.") from None


def amount_due(claim: Claim) -> int:
    return claim_owed(claim)


def _debtor_decisions(claim: Claim) -> dict[str, Any]:
    """The promise, plan and help request the debtor made on the page, as the API shows them."""
    from recobro.claims.promises import state_of  # promises builds on this module

    promise, plan, help_request = claim.promise, claim.plan, claim.help_request
    return {
        "promise": None
        if promise is None
        else PromiseOut(
            amount=int(promise.amount),
            due_date=promise.due_date,
            made_at=utc_iso(promise.made_at),
            state=state_of(claim) or "active",
        ),
        "plan": None
        if plan is None
        else PlanOut(
            plan_id=plan.plan_id,
            status=plan.status,  # type: ignore[arg-type]
            installment_count=int(plan.installment_count),
            day_of_month=int(plan.day_of_month),
            amount=int(plan.amount),
        ),
        "help_request": None
        if help_request is None
        else HelpRequestOut(
            reason=help_request.reason,  # type: ignore[arg-type]
            requested_at=utc_iso(help_request.requested_at),
        ),
    }


def _offer_out(claim: Claim) -> EarlyPaymentOfferOut | None:
    """The early-payment offer a reminder made, while it stands."""
    view = early_payment.offer_view(early_payment.offer_of(claim, clock.now()))
    return None if view is None else EarlyPaymentOfferOut(**view)


def claim_view(claim: Claim, debtor: Debtor) -> dict[str, Any]:
    """The claim as the merchant API shows it (validated against ClaimOut)."""
    view = ClaimOut(
        id=claim.claim_id,
        external_id=claim.external_id,
        status=claim.status,  # type: ignore[arg-type]  # stored values are ClaimStatus
        status_reason=claim.status_reason,
        currency=claim.currency,
        description=claim.description,
        amount_total=int(claim.amount_total),
        amount_paid=int(claim.amount_paid),
        amount_discounted=int(claim.amount_discounted or 0),
        amount_due=amount_due(claim),
        credit=int(claim.credit or 0),
        installments=[
            InstallmentOut(
                number=int(i.number),
                due_date=i.due_date,
                amount=int(i.amount),
                amount_paid=int(i.amount_paid),
                amount_discounted=int(i.amount_discounted or 0),
                amount_due=installment_owed(i),
                status="paid" if installment_owed(i) <= 0 else "open",
            )
            for i in claim.installments
        ],
        debtor=DebtorSummary(
            id=debtor.debtor_id,
            external_id=debtor.external_id,
            name=debtor.name,
            email=debtor.email,
            phone=debtor.phone,
            locale=debtor.locale,
            timezone=debtor.timezone,
        ),
        next_reminder_at=claim.next_action_at,
        early_payment_offer=_offer_out(claim),
        **_debtor_decisions(claim),
        payment_url=links.payment_url(
            config.pages_base_url(), claim.merchant_id, claim.claim_id, int(claim.link_version or 0), claim.debtor_id
        ),
        metadata=claim.metadata.as_dict() if claim.metadata is not None else {},  # type: ignore[no-untyped-call]
        created_at=utc_iso(claim.created_at),
        updated_at=utc_iso(claim.updated_at),
    )
    return view.model_dump(mode="json")
