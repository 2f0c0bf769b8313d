"""Pydantic models of the TAT API (they also generate its part of /openapi.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

Metric = Literal["first_response", "next_response", "resolution"]


class AttainmentQuery(BaseModel):
    """``since`` defaults to seven days before ``until``; ``until`` defaults to now. Both need a zone."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class AttainmentRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: str
    metric: Metric
    met: int
    breached: int
    #: met / (met + breached); null when both are 0
    attainment: float | None


class AttainmentOut(BaseModel):
    """Clocks that stopped in time (counted at their stop) or ran out (counted at their due time) in
    ``[since, until)``, per policy and metric: every configured policy's targets, then any other policy
    name still found on clocks."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime
    until: AwareDatetime
    items: list[AttainmentRow]
