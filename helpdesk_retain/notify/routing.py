"""Who hears about what, from ``[notify]``: channels and recipients per assignee, team or default.

Precedence for an agent's reminders and TAT alerts: ``[notify.assignees."<email>"]``, then the first
``[notify.teams.<name>]`` listing them in ``members``, then ``default_channels``. Work without an
assignee goes to ``[notify] recipients``. Escalations go to the team's ``lead``, else ``team_lead``, else
``recipients``. Channels that address people (email) get one message per address; the others (Slack, a
webhook) one message per thing, whose ``recipient`` says whom it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .channels import channel_tables, notifier_class

if TYPE_CHECKING:
    from ..config import NotifySettings, NotifyTeam


@dataclass(frozen=True)
class Route:
    channel: str
    recipient: str


def team_name(cfg: NotifySettings, email: str | None) -> str | None:
    """The first team listing ``email`` in its members, or None."""
    key = (email or "").strip().lower()
    return next((name for name, team in cfg.teams.items() if key and key in team.members), None)


def team_of(cfg: NotifySettings, email: str | None) -> NotifyTeam | None:
    name = team_name(cfg, email)
    return None if name is None else cfg.teams[name]


def assignee_routes(cfg: NotifySettings, assignee: str | None) -> list[Route]:
    key = (assignee or "").strip().lower()
    person = cfg.assignees.get(key) if key else None
    team = team_of(cfg, key)
    channels = (person and person.channels) or (team and team.channels) or cfg.default_channels
    people = [(person and person.email) or key] if key else list(cfg.recipients)
    return expand(cfg, channels, people, concerns=key)


def lead_of(cfg: NotifySettings, assignee: str | None) -> str | None:
    team = team_of(cfg, assignee)
    return (team and team.lead) or cfg.team_lead


def lead_routes(cfg: NotifySettings, assignee: str | None) -> list[Route]:
    team = team_of(cfg, assignee)
    lead = lead_of(cfg, assignee)
    channels = (team and team.channels) or cfg.default_channels
    people = [lead] if lead else list(cfg.recipients)
    return expand(cfg, channels, people, concerns=lead or "")


def expand(cfg: NotifySettings, channels: list[str], people: list[str], concerns: str) -> list[Route]:
    routes: list[Route] = []
    tables = channel_tables(cfg)
    for channel in dict.fromkeys(channels):
        if notifier_class(str(tables[channel]["plugin"])).addresses_people:
            routes += [Route(channel, address) for address in dict.fromkeys(people)]
        else:
            routes.append(Route(channel, concerns))
    return routes
