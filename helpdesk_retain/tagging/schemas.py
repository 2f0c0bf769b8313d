"""Request and response models of the tagging API (they also generate /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..schemas import Out
from .packs import Category


class ComplaintIn(BaseModel):
    """An agent's verdict; it overrides the rules until changed or removed (DELETE)."""

    model_config = ConfigDict(extra="forbid")

    is_complaint: bool
    category: Category | None = None

    @model_validator(mode="after")
    def _category_needs_complaint(self) -> ComplaintIn:
        if self.category is not None and not self.is_complaint:
            raise ValueError("category is only for complaints (is_complaint true)")
        return self


class AtRiskQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: must be true: the customer list is the at-risk list
    at_risk: bool
    #: only customers with a reason at or after this time (newly at risk)
    since: datetime | None = None
    #: evaluate the rule as of this time (default: now)
    at: datetime | None = None
    limit: int = Field(50, ge=1, le=500)

    @model_validator(mode="after")
    def _only_at_risk(self) -> AtRiskQuery:
        if not self.at_risk:
            raise ValueError("only at_risk=true is supported: this list is the at-risk customers")
        return self


class TicketRef(Out):
    source: str
    external_id: str


class ReasonOut(Out):
    #: signal: a risk signal in the signal window; bad_experiences: enough complaints / TAT breaches
    rule: Literal["signal", "bad_experiences"]
    kind: str
    count: int
    last_at: datetime
    evidence: str | None = None
    tickets: list[TicketRef] = []


class RiskCustomerOut(Out):
    email: str | None = None
    name: str | None = None
    external_id: str | None = None
    plan: str | None = None
    status: str
    mrr_minor: int | None = None
    currency: str | None = None
    reasons: list[ReasonOut]


class AtRiskPage(Out):
    at: datetime
    items: list[RiskCustomerOut]
