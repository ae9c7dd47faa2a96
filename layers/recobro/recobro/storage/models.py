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
- Messages of a claim: Query by claim_ref = "<merchant_id>#<claim_id>".
- Events (timeline) of a claim: Query ClaimEventsTable by claim_ref, sorted by event_key (time).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
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


class Merchant(Model):
    """A BNPL merchant: the tenant every other key starts from."""

    class Meta(_Meta):
        table_name = config.MERCHANTS_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    display_name = UnicodeAttribute()
    support_email = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


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
    by_merchant = ApiKeysByMerchant()


class InstallmentMap(MapAttribute[str, Any]):
    number = NumberAttribute()
    due_date = UnicodeAttribute()  # ISO date, in the debtor's calendar
    amount = NumberAttribute()  # minor units
    amount_paid = NumberAttribute(default=0)


class ClaimsByNextAction(GlobalSecondaryIndex["Claim"]):  # type: ignore[no-untyped-call]
    """Sparse time index, hash-sharded so one due time is never one hot partition."""

    class Meta:
        index_name = "by_next_action"
        projection = AllProjection()

    action_shard = UnicodeAttribute(hash_key=True)
    next_action_at = UnicodeAttribute(range_key=True)


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
    version = VersionAttribute()
    by_next_action = ClaimsByNextAction()


class ClaimExternalRef(Model):
    """Marker item that makes a merchant's external_id unique; shares the claims table."""

    class Meta(_Meta):
        table_name = config.CLAIMS_TABLE

    merchant_id = UnicodeAttribute(hash_key=True)
    claim_id = UnicodeAttribute(range_key=True)  # "ext#<external_id>"
    target_claim_id = UnicodeAttribute()


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
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class Message(Model):
    """One reminder on one channel; its key makes (claim, installment, step) send at most once."""

    class Meta(_Meta):
        table_name = config.MESSAGES_TABLE

    claim_ref = UnicodeAttribute(hash_key=True)  # "<merchant_id>#<claim_id>"
    message_id = UnicodeAttribute(range_key=True)  # "msg#<installment:03d>#<step>"
    channel = UnicodeAttribute()
    status = UnicodeAttribute()  # sending | sent | skipped | failed
    reason = UnicodeAttribute(null=True)
    template = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # TTL, epoch seconds


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


ALL_MODELS: tuple[type[Model], ...] = (Merchant, ApiKey, Claim, ClaimExternalRef, Debtor, Message, ClaimEvent)


def claim_ref(merchant_id: str, claim_id: str) -> str:
    return f"{merchant_id}#{claim_id}"
