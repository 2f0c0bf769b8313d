"""Pydantic models of ``GET /api/digest/<YYYY-Www>`` (they shape the answer and generate its OpenAPI part).

Money is integer minor units with an ISO 4217 code; shares (``attainment``, ``tat_attainment``) are fractions
0..1; ``*_percent`` fields are percentages rounded to 1 or 2 decimals; minutes are business minutes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from ..saves.schemas import ClvOut, CrrOut, SaveRateOut, SaveTotalsOut
from ..schemas import Out
from ..tat.schemas import AttainmentRow


class DigestTicketsOut(Out):
    received: int


class DigestCategoryOut(Out):
    category: str
    count: int
    #: complaints per week in this category over the 4 weeks before
    previous_average: float
    #: (count - previous_average) / previous_average x 100; null when that average is 0
    change_percent: float | None


class DigestPhraseOut(Out):
    phrase: str
    #: complaint tickets of the week whose evidence holds the phrase (case-insensitive)
    tickets: int


class DigestComplaintsOut(Out):
    count: int
    previous_average: float
    change_percent: float | None
    by_category: list[DigestCategoryOut]
    top_evidence: list[DigestPhraseOut]


class DigestReasonOut(Out):
    """One reason, as ``tagging.risk`` gives it: a signal (``kind`` = its name, ``evidence`` = the customer's
    words) or ``bad_experiences`` (``evidence`` summarises the kinds)."""

    rule: Literal["signal", "bad_experiences"]
    kind: str
    count: int
    last_at: AwareDatetime
    evidence: str | None = None


class DigestAtRiskCustomerOut(Out):
    email: str | None
    name: str | None
    plan: str | None
    mrr_minor: int | None
    currency: str | None
    reasons: list[DigestReasonOut]


class DigestAtRiskOut(Out):
    #: every customer at risk at the week's end; ``customers`` holds the 10 with the most recurring revenue
    count: int
    customers: list[DigestAtRiskCustomerOut]


class DigestDecidedCurrencyOut(Out):
    outcome: Literal["held", "lost"]
    currency: str
    count: int
    mrr_minor: int


class DigestDecidedOut(Out):
    """Saves made before the week whose outcome was decided in it."""

    held: int
    lost: int
    by_currency: list[DigestDecidedCurrencyOut]


class DigestSavesOut(SaveTotalsOut):
    decided: DigestDecidedOut
    save_rate: SaveRateOut
    clv: ClvOut


class DigestFirstResponseOut(Out):
    """First responses sent in the week, business minutes from creation (percentile_cont method)."""

    count: int
    median_minutes: float | None
    p90_minutes: float | None


class DigestTatOut(Out):
    items: list[AttainmentRow]
    met: int
    #: clocks that ran out in the week (the breaches)
    breached: int
    attainment: float | None
    first_response: DigestFirstResponseOut


class DigestFollowupsOut(Out):
    created: int
    sent: int
    done: int
    #: unfinished at the week's end and past their escalation (or due) time
    overdue: int


class DigestRetentionOut(Out):
    #: null when no customer event (billing, customer.updated) was ever received
    crr: CrrOut | None
    churned: int


class DigestTrendWeekOut(Out):
    week: str
    received: int
    #: complaints per category
    complaints: dict[str, int]
    saves: int
    tat_attainment: float | None


class DigestOut(Out):
    week: str
    timezone: str
    since: AwareDatetime
    until: AwareDatetime
    tickets: DigestTicketsOut
    complaints: DigestComplaintsOut
    at_risk: DigestAtRiskOut
    saves: DigestSavesOut
    tat: DigestTatOut
    followups: DigestFollowupsOut
    retention: DigestRetentionOut
    #: the 8 weeks ending with this one, oldest first
    trend: list[DigestTrendWeekOut]
