"""TAT policies from ``[[tat.policies]]``: ordered, the first whose conditions all hold applies.

Conditions compare case-insensitively: ``priority``, ``channel``, ``type``, ``category`` (the ticket's
complaint category) and ``plan`` (the customer's plan) hold when the ticket's value is one of the listed
ones; ``tags_any`` holds when the ticket has at least one of the listed tags. An absent condition holds.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import PolicySettings, Settings
from .calendar import BusinessCalendar

METRICS = ("first_response", "next_response", "resolution")
#: log snapshot keys a policy can match on (category and plan are not in the log; see Facts)
SNAPSHOT_KEYS = frozenset({"priority", "channel", "type", "tags"})


@dataclass(frozen=True, slots=True)
class Facts:
    """What policies match on, at one point of a ticket's history. ``category`` and ``plan`` are the
    ticket's and customer's current values: the event log does not record when they changed."""

    priority: str | None = None
    channel: str | None = None
    type: str | None = None
    tags: frozenset[str] = frozenset()
    category: str | None = None
    plan: str | None = None

    def with_snapshot(self, fields: Mapping[str, Any]) -> Facts:
        tags = fields.get("tags")
        return Facts(
            priority=_fold(fields.get("priority")),
            channel=_fold(fields.get("channel")),
            type=_fold(fields.get("type")),
            tags=frozenset(_fold(t) for t in tags) if isinstance(tags, list | tuple) else frozenset(),
            category=self.category,
            plan=self.plan,
        )


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    calendar: BusinessCalendar
    #: metric -> target in business minutes; a metric that is absent has no clock under this policy
    targets: Mapping[str, int]
    warn_at: float
    pause_on: frozenset[str]
    #: (fact, allowed casefolded values); "tags" means any-of
    conditions: tuple[tuple[str, frozenset[str]], ...]

    def matches(self, facts: Facts) -> bool:
        for fact, allowed in self.conditions:
            if fact == "tags":
                if facts.tags.isdisjoint(allowed):
                    return False
            elif getattr(facts, fact) not in allowed:
                return False
        return True


@dataclass(frozen=True, slots=True)
class PolicySet:
    policies: tuple[Policy, ...]
    uses_category: bool
    uses_plan: bool
    #: identifies the configuration (policies and calendars) the set was built from
    key: str = ""

    def select(self, facts: Facts) -> Policy | None:
        """The first policy whose conditions hold, or None."""
        for policy in self.policies:
            if policy.matches(facts):
                return policy
        return None

    def names(self) -> list[str]:
        return [p.name for p in self.policies]

    def by_name(self, name: str | None) -> Policy | None:
        return next((p for p in self.policies if p.name == name), None) if name is not None else None


def build_policy(settings: PolicySettings, calendar: BusinessCalendar) -> Policy:
    match = settings.match
    fields = {"priority": match.priority, "channel": match.channel, "type": match.type, "tags": match.tags_any}
    fields.update(category=match.category, plan=match.plan)
    conditions = tuple((fact, frozenset(_fold(v) for v in values)) for fact, values in fields.items() if values)
    targets = {m: minutes for m in METRICS if (minutes := getattr(settings.targets, m)) is not None}
    return Policy(settings.name, calendar, targets, settings.warn_at, frozenset(settings.pause_on), conditions)


def build_policy_set(settings: Settings) -> PolicySet:
    calendars = {name: BusinessCalendar.from_config(table) for name, table in settings.calendars.items()}
    policies = tuple(build_policy(p, calendars[p.calendar]) for p in settings.tat.policies)
    config = settings.tat.model_dump_json() + "".join(
        f"{name}={table.model_dump_json()}" for name, table in sorted(settings.calendars.items())
    )
    key = hashlib.blake2b(config.encode(), digest_size=12).hexdigest()
    return PolicySet(policies, _uses(policies, "category"), _uses(policies, "plan"), key)


def _uses(policies: Iterable[Policy], fact: str) -> bool:
    return any(name == fact for p in policies for name, _ in p.conditions)


# Calendars cache the months they have computed, so one PolicySet is kept per Settings object (settings
# are frozen; the entry holds the object, so its id cannot be reused while cached).
_CACHE: dict[int, tuple[Settings, PolicySet]] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 16


def policy_set(settings: Settings) -> PolicySet:
    """The compiled policies and calendars of ``settings`` (built once per settings object)."""
    hit = _CACHE.get(id(settings))
    if hit is not None and hit[0] is settings:
        return hit[1]
    built = build_policy_set(settings)
    with _LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[id(settings)] = (settings, built)
    return built
