"""Pydantic models of the saves and retention API (requests are validated, answers shaped, spec generated).

Money is integer minor units with an ISO 4217 code; percentages are floats rounded to 2 decimals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from ..money import MoneyError, currency_code
from ..schemas import CustomerOut, Out

#: larger amounts cannot be an honest subscription and would overflow ARR arithmetic in BIGINT
MAX_AMOUNT_MINOR = 10**15


class SaveIn(BaseModel):
    """``POST /api/saves``: record (or update) the save of an existing ticket."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=200)
    amount_minor: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)]
    currency: str
    interval: Literal["month", "year"] = "month"
    reason: str | None = Field(None, max_length=500)
    offer: str | None = Field(None, max_length=500)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return currency_code(value)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None


class PeriodQuery(BaseModel):
    """``since`` inclusive, ``until`` exclusive; defaults: the 30 days up to now."""

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = None
    until: datetime | None = None


class SavesQuery(PeriodQuery):
    state: Literal["active", "withdrawn", "all"] = "active"
    outcome: Literal["pending", "held", "lost"] | None = None
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=1000)


class SaveItemOut(Out):
    id: int
    source: str
    external_id: str
    customer: CustomerOut | None = None
    amount_minor: int | None
    currency: str | None
    interval: Literal["month", "year"]
    mrr_minor: int | None
    arr_minor: int | None
    outcome: Literal["pending", "held", "lost"]
    state: Literal["active", "withdrawn"]
    via: Literal["tag", "api"]
    reason: str | None = None
    offer: str | None = None
    saved_at: datetime
    verify_due_at: datetime
    verified_at: datetime | None = None
    withdrawn_at: datetime | None = None


class SaveRecordedOut(SaveItemOut):
    #: what this request changed: marked | updated | reinstated, or null when nothing changed
    change: Literal["marked", "updated", "reinstated"] | None = None


class CurrencyTotalOut(Out):
    currency: str
    count: int
    mrr_minor: int
    arr_minor: int
    held_mrr_minor: int
    lost_mrr_minor: int
    #: customers with a save that is not lost, each once; their MRR and ARR once each
    customers: int
    kept_mrr_minor: int
    kept_arr_minor: int


class BaseTotalOut(Out):
    """Totals converted with the configured ``[money]`` rates; null sums when a currency has no rate."""

    currency: str
    mrr_minor: int | None
    arr_minor: int | None
    missing_rates: list[str] = []


class SaveTotalsOut(Out):
    count: int
    pending: int
    held: int
    lost: int
    withdrawn: int
    #: saves without a known amount (counted, not in any money total)
    unpriced: int
    #: customers saved: distinct customers with a save that is neither withdrawn nor lost
    customers: int
    by_currency: list[CurrencyTotalOut]
    base: BaseTotalOut | None = None


class SavesPageOut(Out):
    since: datetime
    until: datetime
    items: list[SaveItemOut]
    next_cursor: str | None = None
    totals: SaveTotalsOut


class SaveRateOut(Out):
    saves: int
    #: tickets with cancel or refund intent in the period; null when risk signals are not available
    intent_tickets: int | None
    percent: float | None


class CrrOut(Out):
    """Customer retention rate (E - N) / S x 100; null when S = 0."""

    start: int
    end: int
    new: int
    percent: float | None


class ClvCurrencyOut(Out):
    currency: str
    mrr_minor: int
    clv_minor: int


class ClvBaseOut(Out):
    currency: str
    clv_minor: int | None
    missing_rates: list[str] = []


class ClvOut(Out):
    """Estimated lifetime value of saved revenue: MRR kept (each saved customer once, lost saves left out) x
    expected lifetime in months."""

    expected_lifetime_months: int
    by_currency: list[ClvCurrencyOut]
    base: ClvBaseOut | None = None


class RetentionOut(Out):
    since: datetime
    until: datetime
    saves: SaveTotalsOut
    save_rate: SaveRateOut
    crr: CrrOut
    clv: ClvOut
