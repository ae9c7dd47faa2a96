"""One change to one claim: re-read it, decide, write it under its version with its events.

Merchant actions, promises and help requests all change a claim the same way: read it
consistently, let the caller decide on what it sees now (raising to refuse), then commit the
claim and its events in one transaction; a concurrent change means deciding again on the new
state. Events go to webhooks only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable

from recobro import events
from recobro.claims.service import get_claim
from recobro.errors import Conflict
from recobro.storage.models import Claim
from recobro.storage.transactions import TransactionConflict, Write, commit

ATTEMPTS = 10


def change_claim(merchant_id: str, claim_id: str, decide: Callable[[Claim], list[events.Event]]) -> Claim:
    """Apply `decide` (which mutates the claim and returns its events) and commit, retrying on conflicts."""
    for _ in range(ATTEMPTS):
        claim = get_claim(merchant_id, claim_id, consistent=True)
        happened = decide(claim)
        try:
            commit([Write(claim), *(Write(e.to_item()) for e in happened)])
        except TransactionConflict:
            continue  # changed meanwhile: decide again on its new state
        events.published(happened)
        return claim
    raise Conflict("The claim is changing too fast; retry the request.", code_override="concurrent_update")
