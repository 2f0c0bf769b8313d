"""Turnaround-time targets: business calendars, policies, clocks and breaches (DESIGN.md §5)."""

from .calendar import BusinessCalendar
from .clocks import Clock, compute_clocks
from .policies import Facts, Policy, PolicySet, policy_set
from .sweep import run_due_tat
from .timing import add_business

__all__ = [
    "BusinessCalendar",
    "Clock",
    "Facts",
    "Policy",
    "PolicySet",
    "add_business",
    "compute_clocks",
    "policy_set",
    "run_due_tat",
]
