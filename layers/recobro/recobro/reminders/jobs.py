"""The message job the planner puts on the queue and the sender takes off it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReminderJob(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    merchant_id: str = Field(min_length=1, max_length=64)
    claim_id: str = Field(min_length=1, max_length=64)
    installment: int = Field(ge=1)
    step: str = Field(min_length=1, max_length=40)
    planned_for: str  # the UTC instant the step fell due
    # Lets the sender read the claim and its debtor in one request; None in jobs planned before.
    debtor_id: str | None = Field(default=None, min_length=1, max_length=128)
    # The claim's reminded_through when the job was planned: steps after it and up to this one's
    # instant are this job's backlog, of which the sender sends the latest whose conditions hold.
    after: str | None = None

    @property
    def message_id(self) -> str:
        return f"msg#{self.installment:03d}#{self.step}"
