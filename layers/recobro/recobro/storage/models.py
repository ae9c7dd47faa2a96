"""PynamoDB models, one per table in template.yaml (tests fail if the two drift apart).

Access patterns (no Scan on any hot path):
- Merchant by merchant_id: GetItem.                                   (auth, pages, sender)
- API key by sha256 of the key: GetItem on ApiKeysTable.               (every API call)
- API keys of a merchant: Query by_merchant.                          (rotation, issue #4)
- Claim by (merchant_id, claim_id): GetItem; tenant isolation is the hash key itself.
- Claim by merchant's external_id: GetItem on the marker item (merchant_id, "ext#<external_id>").
- Claims whose next reminder is due: Query by_next_action per shard, next_action_at <= now.
  The index is sparse: settled claims drop next_action_at and leave it.
- Debtor by (merchant_id, debtor_id): GetItem / BatchGetItem with the claim.
- Debtors by phone (inbound SMS/WhatsApp): Query by_phone on a keyed hash of the number (recobro.phones).
- Messages of a claim: Query by claim_ref = "<merchant_id>#<claim_id>".
- A merchant's claims newest first: Query by_merchant_created (cursor = created_key of the last one).
- A debtor's claims: Query by_debtor.
- Ledger of a claim: Query LedgerTable by claim_ref; a payment by its reference: GetItem.
- Events (timeline) of a claim: Query ClaimEventsTable by claim_ref, sorted by event_key (time).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from recobro import config

EXTERNAL_REF_PREFIX = "ext#"


class _Meta:
    # No host: botocore's AWS_ENDPOINT_URL_DYNAMODB points every model at DynamoDB Local.
    billing_mode = "PAY_PER_REQUEST"


class PlanRulesMap(MapAttribute[str, Any]):
    """Installment plans a debtor may choose on the payment page."""

    min_installments = NumberAttribute(default=2)
    max_installments = NumberAttribute(default=6)
    min_installment_amount = NumberAttribute(default=1000)  # minor units
    max_days_to_promise = NumberAttribute(default=14)
    min_payment_amount = NumberAttribute(default=500)  # minor units: the least a debtor may pay or promise at once
    max_days_to_move = NumberAttribute(default=10)  # how much later a debtor may move a payment date


class ContactWindowMap(MapAttribute[str, Any]):
    """Local hours (debtor's timezone) in which reminders may go out."""

    start = UnicodeAttribute(default="08:00")
    end = UnicodeAttribute(default="21:00")


class Merchant(Model):
    """A BNPL merchant: the tenant every other key starts from."""

    class Meta(_Meta):
        table_name = config.MERCHANTS_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    display_name = UnicodeAttribute()
    support_email = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    # Branding and settings (recobro.settings validates them; defaults let older items read fine).
    logo_url = UnicodeAttribute(null=True)
    brand_color = UnicodeAttribute(default="#1A56DB")
    accent_color = UnicodeAttribute(null=True)
    support_phone = UnicodeAttribute(null=True)
    legal_footer = UnicodeAttribute(null=True)  # plain text, never interpreted as HTML
    identity_check = UnicodeAttribute(default="date_of_birth")  # date_of_birth | postal_code
    plan_rules = PlanRulesMap(default=PlanRulesMap)  # type: ignore[no-untyped-call]
    contact_window = ContactWindowMap(default=ContactWindowMap)  # type: ignore[no-untyped-call]
    max_contacts_per_week = NumberAttribute(default=7)
    max_sms_segments = NumberAttribute(default=3)  # longer SMS are refused (recobro.channels.sms.fit)
    updated_at = UTCDateTimeAttribute(null=True)
    version = VersionAttribute()  # settings PATCHes are conditional on it


class ApiKeysByMerchant(GlobalSecondaryIndex["ApiKey"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_merchant"
        projection = KeysOnlyProjection()

    merchant_id = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute(range_key=True)


class ApiKey(Model):
    """A merchant API key, stored as the SHA-256 of its secret only."""

    class Meta(_Meta):
        table_name = config.API_KEYS_TABLE

    key_hash = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    prefix = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    last4 = UnicodeAttribute(null=True)  # last four characters of the secret, for recognising it
    description = UnicodeAttribute(null=True)
    valid_until = UTCDateTimeAttribute(null=True)  # set when the key is rolled; fails from then on (not a TTL)
    by_merchant = ApiKeysByMerchant()


class InstallmentMap(MapAttribute[str, Any]):
    number = NumberAttribute()
    due_date = UnicodeAttribute()  # ISO date, in the debtor's calendar
    amount = NumberAttribute()  # minor units
    amount_paid = NumberAttribute(default=0)
    amount_discounted = NumberAttribute(default=0)  # settled by an early-payment discount (claims.early_payment)


class EarlyPaymentOfferMap(MapAttribute[str, Any]):
    """A reminder's offer: pay the installment in full by its due date and get `discount` off."""

    installment = NumberAttribute()
    discount_percent = NumberAttribute()
    discount = NumberAttribute()  # minor units, the claim's currency
    valid_until = UTCDateTimeAttribute()  # the end of the installment's due date in the debtor's timezone
    offered_at = UTCDateTimeAttribute()


class PromiseMap(MapAttribute[str, Any]):
    """The debtor's word to pay `amount` by `due_date`; reminders wait until the day after."""

    amount = NumberAttribute()  # minor units, the claim's currency
    due_date = UnicodeAttribute()  # ISO date in the debtor's calendar
    made_at = UTCDateTimeAttribute()
    amount_paid_before = NumberAttribute(
        default=0
    )  # the claim's amount_paid when promised: kept = paid since >= amount


class HelpRequestMap(MapAttribute[str, Any]):
    """The debtor's last request for help from the page (the free text is on the timeline only)."""

    reason = UnicodeAttribute()  # cannot_pay_now | amount_wrong | already_paid | goods_not_received | other
    requested_at = UTCDateTimeAttribute()


class PlanMap(MapAttribute[str, Any]):
    """The installment plan a debtor chose on the page; its charges live in PlanChargesTable."""

    plan_id = UnicodeAttribute()  # plan_...
    status = UnicodeAttribute()  # active | missed | completed | cancelled
    installment_count = NumberAttribute()
    day_of_month = NumberAttribute()
    amount = NumberAttribute()  # what the plan collects in total, minor units
    customer_id = UnicodeAttribute()  # Stripe customer holding the saved card
    payment_method_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute(null=True)


class ClaimsByNextAction(GlobalSecondaryIndex["Claim"]):  # type: ignore[no-untyped-call]
    """Sparse time index, hash-sharded so one due time is never one hot partition."""

    class Meta:
        index_name = "by_next_action"
        projection = AllProjection()

    action_shard = UnicodeAttribute(hash_key=True)
    next_action_at = UnicodeAttribute(range_key=True)


class ClaimsByMerchantCreated(GlobalSecondaryIndex["Claim"]):  # type: ignore[no-untyped-call]
    """A merchant's claims, newest first: the list endpoint's cursor order."""

    class Meta:
        index_name = "by_merchant_created"
        projection = AllProjection()

    merchant_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ClaimsByDebtor(GlobalSecondaryIndex["Claim"]):  # type: ignore[no-untyped-call]
    """Every claim of one debtor (debtor ids embed the merchant), for lists and contact updates."""

    class Meta:
        index_name = "by_debtor"
        projection = AllProjection()

    debtor_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Claim(Model):
    """An unpaid BNPL order with its installment schedule; updated only under its version."""

    class Meta(_Meta):
        table_name = config.CLAIMS_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    claim_id = UnicodeAttribute(range_key=True)
    external_id = UnicodeAttribute()
    debtor_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    description = UnicodeAttribute()
    status = UnicodeAttribute()
    installments = ListAttribute(of=InstallmentMap)
    amount_total = NumberAttribute()
    amount_paid = NumberAttribute(default=0)
    credit = NumberAttribute(default=0)  # paid beyond the total: shown, refundable, never allocated
    status_reason = UnicodeAttribute(null=True)
    metadata = MapAttribute[str, Any](default=dict)  # type: ignore[no-untyped-call]
    timezone = UnicodeAttribute()  # the debtor's, copied so planning needs no debtor read
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # Planning state: next_action_at is an ISO UTC instant string so it sorts in the index.
    action_shard = UnicodeAttribute(null=True)
    next_action_at = UnicodeAttribute(null=True)
    next_action = UnicodeAttribute(null=True)  # "<installment number>:<step>"
    reminded_through = UnicodeAttribute(null=True)  # reminders at or before this instant are handled
    created_key = UnicodeAttribute(null=True)  # "<created ISO UTC>#<claim_id>"
    link_version = NumberAttribute(default=0)  # payment links carry it; issuing a new link bumps it
    promise = PromiseMap(null=True)  # type: ignore[no-untyped-call]
    help_request = HelpRequestMap(null=True)  # type: ignore[no-untyped-call]
    plan = PlanMap(null=True)  # type: ignore[no-untyped-call]
    # The strategy the claim enrolled under at creation (recobro.strategies.store); it keeps that
    # version until migrated. Version 0 is the built-in default strategy.
    segment = UnicodeAttribute(null=True)
    strategy = UnicodeAttribute(null=True)
    strategy_version = NumberAttribute(null=True)
    # Guardrails (recobro.guardrails): message id -> ISO UTC instant of each contact in the last
    # 168 hours, any channel; the sender rewrites it (pruned) when it takes a message slot.
    recent_contacts = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    # Engagement with the claim's latest sent message, for strategy conditions without a Message
    # query: the sender sets last_message_id (and clears the flags); tracking sets a flag only
    # while its message is still the latest.
    last_message_id = UnicodeAttribute(null=True)
    # The debtor's learned local send time "HH:MM" (recobro.optimise.send_hour) for steps that state
    # no hour; copied here by tracking so planning needs no debtor read. None: 09:00.
    send_time = UnicodeAttribute(null=True)
    last_message_opened = BooleanAttribute(null=True)
    last_message_clicked = BooleanAttribute(null=True)
    # Early-payment offers (recobro.claims.early_payment): the offer a reminder made, until a payment
    # honours it; and what discounts settled (amount_total = amount_paid + amount_discounted + due).
    early_payment_offer = EarlyPaymentOfferMap(null=True)  # type: ignore[no-untyped-call]
    amount_discounted = NumberAttribute(default=0)
    version = VersionAttribute()
    by_next_action = ClaimsByNextAction()
    by_merchant_created = ClaimsByMerchantCreated()
    by_debtor = ClaimsByDebtor()


class ClaimExternalRef(Model):
    """Marker item that makes a merchant's external_id unique; shares the claims table."""

    class Meta(_Meta):
        table_name = config.CLAIMS_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    claim_id = UnicodeAttribute(range_key=True)  # "ext#<external_id>"
    target_claim_id = UnicodeAttribute()


class DebtorsByPhone(GlobalSecondaryIndex["Debtor"]):  # type: ignore[no-untyped-call]
    """Debtors by a keyed hash of their phone number: who an inbound SMS or WhatsApp is from."""

    class Meta:
        index_name = "by_phone"
        projection = AllProjection()

    phone_hash = UnicodeAttribute(hash_key=True)
    debtor_id = UnicodeAttribute(range_key=True)


class Debtor(Model):
    """The person who owes; contact data is PII and never logged."""

    class Meta(_Meta):
        table_name = config.DEBTORS_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    debtor_id = UnicodeAttribute(range_key=True)
    external_id = UnicodeAttribute()
    name = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    locale = UnicodeAttribute()
    timezone = UnicodeAttribute()
    verification_salt = UnicodeAttribute()
    date_of_birth_hash = UnicodeAttribute(null=True)
    postal_code_hash = UnicodeAttribute(null=True)
    opted_out_channels = UnicodeSetAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    phone_hash = UnicodeAttribute(null=True)  # derived from phone on every save (below); never set by hand
    # Opens and clicks per local hour, {"open_09": 3, "click_20": 1}: recobro.optimise.send_hour
    engagement_hours = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    by_phone = DebtorsByPhone()

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        # Every full write (save, transaction put) keeps the by_phone key in step with the phone.
        from recobro.phones import lookup_key

        self.phone_hash = lookup_key(self.phone) if self.phone else None
        return super().serialize(null_check)


class DecisionMap(MapAttribute[str, Any]):
    """One entry of a message slot's decision log (docs/adr/0011-guardrails-and-decisions.md)."""

    at = UTCDateTimeAttribute()
    outcome = UnicodeAttribute()  # planned | deferred | blocked | skipped | sending | sent | failed
    rule = UnicodeAttribute(null=True)  # the guardrail or reason behind a deferral, block or skip
    until = UTCDateTimeAttribute(null=True)  # deferred: when it is tried again


class Message(Model):
    """One reminder on one channel; its key makes (claim, installment, step) send at most once."""

    class Meta(_Meta):
        table_name = config.MESSAGES_TABLE

    claim_ref = UnicodeAttribute(hash_key=True)  # "<merchant_id>#<claim_id>"
    message_id = UnicodeAttribute(range_key=True)  # "msg#<installment:03d>#<step>"
    channel = UnicodeAttribute()
    status = UnicodeAttribute()  # planned | deferred | blocked | skipped | sending | sent | failed
    reason = UnicodeAttribute(null=True)  # the rule behind the latest deferral, block or skip
    template = UnicodeAttribute(null=True)
    # The strategy step sent ("d+1.email"): the slot's own step, or a later alternative of its
    # backlog whose conditions held (recobro.reminders.sender).
    step = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # TTL, epoch seconds
    # Optimisation (recobro.optimise; ADR 0014): the arm that sent it, and what came of it.
    variant = UnicodeAttribute(null=True)
    stats_key = UnicodeAttribute(null=True)  # VariantStats hash key: "<merchant_id>#<step>#<segment>"
    stats_arm = UnicodeAttribute(null=True)  # VariantStats range key: the variant, or "holdout:<control>"
    debtor_id = UnicodeAttribute(null=True)
    timezone = UnicodeAttribute(null=True)  # the debtor's, to count engagement by local hour
    last_opened_at = UTCDateTimeAttribute(null=True)
    last_clicked_at = UTCDateTimeAttribute(null=True)
    open_count = NumberAttribute(null=True)
    click_count = NumberAttribute(null=True)
    rewarded_at = UTCDateTimeAttribute(null=True)  # set once: a message earns at most one reward
    reward_kind = UnicodeAttribute(null=True)  # click | payment
    # Decision log (recobro.reminders.decisions; ADR 0011): every decision on this slot, oldest first.
    status_at = UTCDateTimeAttribute(null=True)  # when status last changed (a stale "sending" is taken over)
    deferred_until = UTCDateTimeAttribute(null=True)
    decisions = ListAttribute(of=DecisionMap, null=True)
    probabilities = UnicodeAttribute(null=True)  # JSON {variant: probability} the variant was chosen with


class LedgerEntry(Model):
    """A payment made elsewhere or a refund of one, or an early-payment discount; its key makes each
    external reference (and each installment's discount) count once."""

    class Meta(_Meta):
        table_name = config.LEDGER_TABLE

    claim_ref = UnicodeAttribute(hash_key=True)  # "<merchant_id>#<claim_id>"
    # "payment#<external_reference>" | "refund#<external_reference>" | "discount#<installment number>"
    entry_key = UnicodeAttribute(range_key=True)
    entry_id = UnicodeAttribute()  # pay_... | rfd_... | dsc_...
    kind = UnicodeAttribute()  # payment | refund | discount
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    external_reference = UnicodeAttribute()
    payment_reference = UnicodeAttribute(null=True)  # for a refund: the payment it returns
    amount_refunded = NumberAttribute(default=0)  # for a payment: what refunds took back
    allocations = UnicodeAttribute()  # JSON [[installment number, amount], ...]
    to_credit = NumberAttribute(default=0)
    occurred_at = UTCDateTimeAttribute()  # when the money moved (paid_at / refunded_at)
    created_at = UTCDateTimeAttribute()
    reason = UnicodeAttribute(null=True)
    discount = NumberAttribute(null=True)  # for a payment: the early-payment discount it earned


class ClaimEvent(Model):
    """One domain event of a claim: its timeline, and what outbound webhooks carry."""

    class Meta(_Meta):
        table_name = config.CLAIM_EVENTS_TABLE

    claim_ref = UnicodeAttribute(hash_key=True)  # "<merchant_id>#<claim_id>"
    event_key = UnicodeAttribute(range_key=True)  # "<ISO UTC>#<event id>": sorts by time
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    claim_id = UnicodeAttribute()
    data = UnicodeAttribute()  # JSON object
    created_at = UTCDateTimeAttribute()


# ---- webhooks (recobro.webhooks; access patterns in docs/adr/0006-webhooks.md)
# - A merchant's endpoints: Query WebhookEndpointsTable by merchant_id (at most 16 per merchant).
# - Endpoint by (merchant_id, endpoint_id): GetItem; tenant isolation is the hash key itself.
# - Delivery by (merchant_id, delivery_id): GetItem.
# - An endpoint's deliveries newest first: Query by_endpoint (endpoint_ref, created_key < cursor).


class WebhookEndpoint(Model):
    """A merchant's webhook receiver; the secret signs every delivery and is shown only at creation."""

    class Meta(_Meta):
        table_name = config.WEBHOOK_ENDPOINTS_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    endpoint_id = UnicodeAttribute(range_key=True)  # we_...
    url = UnicodeAttribute()
    enabled_events = ListAttribute(of=UnicodeAttribute)  # event types, or ["*"]
    description = UnicodeAttribute(null=True)
    secret = UnicodeAttribute()  # whsec_...; never returned after creation, never logged
    status = UnicodeAttribute(default="enabled")
    created_at = UTCDateTimeAttribute()


class WebhookAttemptMap(MapAttribute[str, Any]):
    attempted_at = UTCDateTimeAttribute()
    status_code = NumberAttribute(null=True)  # None when no HTTP answer came back
    error = UnicodeAttribute(null=True)  # short machine code: timeout, connection_error, http_500...
    duration_ms = NumberAttribute()


class WebhookDeliveriesByEndpoint(GlobalSecondaryIndex["WebhookDelivery"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_endpoint"
        projection = AllProjection()

    endpoint_ref = UnicodeAttribute(hash_key=True)  # "<merchant_id>#<endpoint_id>"
    created_key = UnicodeAttribute(range_key=True)  # "<created ISO UTC>#<delivery_id>"


class WebhookDelivery(Model):
    """One event sent to one endpoint, with every attempt; updated only under its version."""

    class Meta(_Meta):
        table_name = config.WEBHOOK_DELIVERIES_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    delivery_id = UnicodeAttribute(range_key=True)  # dlv_...
    endpoint_id = UnicodeAttribute()
    endpoint_ref = UnicodeAttribute()
    created_key = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    payload = UnicodeAttribute()  # the exact JSON body sent (may hold PII: never logged)
    mode = UnicodeAttribute(default="automatic")  # automatic (retried for 3 days) | manual (ping, redeliver)
    status = UnicodeAttribute()  # pending | succeeded | failed
    attempts = ListAttribute(of=WebhookAttemptMap, default=list)
    next_attempt_at = UTCDateTimeAttribute(null=True)
    redelivery_of = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = NumberAttribute(null=True)  # TTL, epoch seconds
    version = VersionAttribute()
    by_endpoint = WebhookDeliveriesByEndpoint()


# ---- payment page (recobro.page_session; docs/adr/0008-page-identity-and-sessions.md)
# - A debtor's session by its id: GetItem on PageSessionsTable ("session#<id>").
# - A claim's wrong identity answers: GetItem / conditional UpdateItem ("attempts#<merchant>#<claim>").


class PageSession(Model):
    """A verified debtor's page session; the cookie holds only its signed id."""

    class Meta(_Meta):
        table_name = config.PAGE_SESSIONS_TABLE

    pk = UnicodeAttribute(hash_key=True)  # "session#<session id>"
    merchant_id = UnicodeAttribute()
    claim_id = UnicodeAttribute()
    link_version = NumberAttribute()  # a newer link ends the session too
    created_at = UTCDateTimeAttribute()
    expires_at = NumberAttribute()  # epoch seconds: checked on read, and the table's TTL


class VerificationAttempts(Model):
    """Wrong identity answers for one claim in the current 15-minute window, and any lock."""

    class Meta(_Meta):
        table_name = config.PAGE_SESSIONS_TABLE

    pk = UnicodeAttribute(hash_key=True)  # "attempts#<merchant_id>#<claim_id>"
    failures = NumberAttribute(default=0)
    window_started = NumberAttribute()  # epoch seconds of the first failure in the window
    locked_until = NumberAttribute(null=True)  # epoch seconds
    expires_at = NumberAttribute()  # TTL, epoch seconds


# ---- Stripe reconciliation (recobro.payments; docs/adr/0007-stripe-reconciliation.md)
# - A Stripe event by its id: conditional PutItem on receipt, UpdateItem (applied_at) inside the
#   reconciling transaction ("event#<evt id>").
# - The claim a PaymentIntent paid: GetItem ("pi#<payment intent id>"), for refunds and disputes.


class StripeEvent(Model):
    """One Stripe event: stored once on receipt; `applied_at` is set in the transaction that applies it."""

    class Meta(_Meta):
        table_name = config.STRIPE_EVENTS_TABLE

    pk = UnicodeAttribute(hash_key=True)  # "event#<evt id>"
    type = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute(null=True)
    applied_at = UTCDateTimeAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # TTL, epoch seconds


class StripePaymentRef(Model):
    """Which claim a PaymentIntent paid; written with its payment, read by refunds and disputes."""

    class Meta(_Meta):
        table_name = config.STRIPE_EVENTS_TABLE

    pk = UnicodeAttribute(hash_key=True)  # "pi#<payment intent id>"
    merchant_id = UnicodeAttribute()
    claim_id = UnicodeAttribute()


def claim_ref(merchant_id: str, claim_id: str) -> str:
    return f"{merchant_id}#{claim_id}"


# ---- installment plans (recobro.plans; docs/adr/0010-payment-page-actions.md)
# - A claim's plan charges: Query PlanChargesTable by plan_ref ("<merchant_id>#<claim_id>").
# - Charges due now: Query by_due per shard (charge_shard = "s00".."s15"), due_at <= now. Sparse:
#   only a charge waiting for its (next) attempt carries charge_shard and due_at.


class PlanChargesByDue(GlobalSecondaryIndex["PlanCharge"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_due"
        projection = AllProjection()

    charge_shard = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)  # ISO UTC


class PlanCharge(Model):
    """One off-session charge of a plan, with its attempts; updated only under its version."""

    class Meta(_Meta):
        table_name = config.PLAN_CHARGES_TABLE

    plan_ref = UnicodeAttribute(hash_key=True)  # "<merchant_id>#<claim_id>"
    charge_key = UnicodeAttribute(range_key=True)  # "<plan_id>#<number:02d>"
    plan_id = UnicodeAttribute()
    number = NumberAttribute()
    amount = NumberAttribute()  # minor units
    currency = UnicodeAttribute()
    charge_date = UnicodeAttribute()  # ISO date in the debtor's calendar
    status = UnicodeAttribute()  # scheduled | processing | succeeded | retrying | failed | cancelled
    attempts = NumberAttribute(default=0)
    payment_intent = UnicodeAttribute(null=True)  # the latest attempt's PaymentIntent
    last_error = UnicodeAttribute(null=True)  # Stripe's decline code, never card data
    charge_shard = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()
    by_due = PlanChargesByDue()


# ---- funnel (recobro.funnel): a merchant's counters for one day: GetItem / Query by merchant_id,
# day between two dates; each step is one atomic ADD, so reading a month is one Query, no scan.


class FunnelDay(Model):
    """How many debtors reached each step of the page on one UTC day, per merchant."""

    class Meta(_Meta):
        table_name = config.FUNNEL_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    day = UnicodeAttribute(range_key=True)  # ISO date, UTC
    page_view = NumberAttribute(default=0)
    verification_passed = NumberAttribute(default=0)
    verification_failed = NumberAttribute(default=0)
    payment_started = NumberAttribute(default=0)
    payment_succeeded = NumberAttribute(default=0)
    payment_failed = NumberAttribute(default=0)
    plan_started = NumberAttribute(default=0)
    promise_made = NumberAttribute(default=0)
    help_requested = NumberAttribute(default=0)
    opted_out = NumberAttribute(default=0)


# ---- variant optimisation (recobro.optimise; docs/adr/0014-variant-optimisation.md)
# - All variants of one (merchant, step, segment): one Query by stats_key.
# - A send or a reward: one atomic ADD on (stats_key, variant), in a transaction with the
#   conditional write on the Message item that makes it count once.


class VariantStats(Model):
    """Sends and rewards of one template variant in one (merchant, step, segment): a bandit arm."""

    class Meta(_Meta):
        table_name = config.VARIANT_STATS_TABLE

    stats_key = UnicodeAttribute(hash_key=True)  # "<merchant_id>#<step>#<segment>"
    variant = UnicodeAttribute(range_key=True)  # the variant, or "holdout:<control>" for holdout sends
    sends = NumberAttribute(default=0)
    rewards = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute(null=True)


# ---- strategies (recobro.strategies.store; docs/adr/0012-strategies-as-code.md)
# - A version: GetItem (merchant_id, "<name>#<version:06d>"); written once (attribute_not_exists), never changed.
# - A strategy's latest version: GetItem (merchant_id, "<name>#latest"); moved under its latest_version.
# - A strategy's versions, newest first: Query merchant_id, strategy_key between "<name>#000001" and "<name>#999999".
# - The merchant's assignment rules: GetItem (merchant_id, "#assignments").


class StrategyVersion(Model):
    """One saved version of a merchant's strategy: the YAML exactly as sent; never updated."""

    class Meta(_Meta):
        table_name = config.STRATEGIES_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    strategy_key = UnicodeAttribute(range_key=True)  # "<name>#<version:06d>"
    name = UnicodeAttribute()
    number = NumberAttribute()  # the version, 1..
    document = UnicodeAttribute()  # the YAML text
    checksum = UnicodeAttribute()  # sha256 of the text: an unchanged PUT makes no version
    description = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class StrategyPointer(Model):
    """Which version of a strategy is the latest (what new claims enrol under)."""

    class Meta(_Meta):
        table_name = config.STRATEGIES_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    strategy_key = UnicodeAttribute(range_key=True)  # "<name>#latest"
    name = UnicodeAttribute()
    latest_version = NumberAttribute()
    checksum = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()


class StrategyAssignments(Model):
    """Which strategy new claims of each segment enrol under; updated under its version."""

    class Meta(_Meta):
        table_name = config.STRATEGIES_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    strategy_key = UnicodeAttribute(range_key=True)  # "#assignments"
    rules = UnicodeAttribute()  # JSON [{"segment": ..., "strategy": ...}, ...]
    default_strategy = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


# ---- merchant message templates (recobro.channels.message_templates; docs/adr/0013-channels-and-two-way.md)
# Same table as the strategies: a strategy's variants name templates of the same merchant.
# - One template: GetItem (merchant_id, "#template#<channel>#<name>"), cached per container for 60 s
#   by the sender; built-in names ("reminder") are reserved and never read.
# - The templates a strategy names: BatchGetItem of their keys when the strategy is saved.
# - All of a merchant's templates: Query merchant_id, strategy_key begins_with "#template#".
# - Create: PutItem with attribute_not_exists; replace: conditional on its version.


class MessageTemplate(Model):
    """A merchant's own text for one channel, per language, checked by recobro.channels.texts."""

    class Meta(_Meta):
        table_name = config.STRATEGIES_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    strategy_key = UnicodeAttribute(range_key=True)  # "#template#<channel>#<name>"
    channel = UnicodeAttribute()  # email | sms | whatsapp
    name = UnicodeAttribute()
    texts = UnicodeAttribute()  # JSON {"es": "...", "en": "...", "pt-BR": "..."}: at least one language
    subjects = UnicodeAttribute(null=True)  # JSON, email only: a subject for every language with a text
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


ALL_MODELS: tuple[type[Model], ...] = (
    Merchant,
    ApiKey,
    Claim,
    ClaimExternalRef,
    Debtor,
    Message,
    LedgerEntry,
    ClaimEvent,
    WebhookEndpoint,
    WebhookDelivery,
    PageSession,
    VerificationAttempts,
    StripeEvent,
    StripePaymentRef,
    PlanCharge,
    FunnelDay,
    VariantStats,
    StrategyVersion,
    StrategyPointer,
    StrategyAssignments,
    MessageTemplate,
)
