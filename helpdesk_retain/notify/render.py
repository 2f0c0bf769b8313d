"""What reminders, escalations and TAT alerts say: one ``Notice`` rendered as plain text, HTML, Slack blocks
and a machine-readable ``data`` object, from the same entries so every channel says the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

SIGNATURE = "helpdesk-retain"
METRICS = {"first_response": "first response", "next_response": "next response", "resolution": "resolution"}


@dataclass(frozen=True)
class TicketRef:
    source: str
    external_id: str
    display_id: str | None = None
    subject: str | None = None
    url: str | None = None

    @property
    def label(self) -> str:
        name = f"{self.source} #{self.display_id or self.external_id}"
        return f"{name}: {' '.join(self.subject.split())}" if self.subject else name

    def json(self) -> dict[str, Any]:
        return {"source": self.source, "external_id": self.external_id, "subject": self.subject, "url": self.url}


@dataclass(frozen=True)
class FollowUpItem:
    id: int
    ticket: TicketRef
    assignee: str | None
    customer_email: str | None
    customer_name: str | None
    tracker: str
    issue: str
    issue_title: str | None
    issue_url: str | None
    fixed_at: datetime
    due_at: datetime

    @property
    def customer(self) -> str | None:
        if self.customer_name and self.customer_email:
            return f"{self.customer_name} <{self.customer_email}>"
        return self.customer_email or self.customer_name

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "assignee": self.assignee,
            "ticket": self.ticket.json(),
            "customer": {"email": self.customer_email, "name": self.customer_name},
            "issue": {"tracker": self.tracker, "issue": self.issue, "title": self.issue_title, "url": self.issue_url},
            "fixed_at": iso(self.fixed_at),
            "due_at": iso(self.due_at),
        }


@dataclass(frozen=True)
class TatItem:
    id: int
    kind: str
    metric: str
    policy: str
    at: datetime
    ticket: TicketRef
    assignee: str | None
    #: the clock's state now (a warning is not sent once its clock stopped running)
    clock_state: str | None = None

    def json(self) -> dict[str, Any]:
        fields = {"id": self.id, "kind": self.kind, "metric": self.metric, "policy": self.policy, "at": iso(self.at)}
        return fields | {"ticket": self.ticket.json(), "assignee": self.assignee}


@dataclass(frozen=True)
class Line:
    label: str
    text: str
    url: str | None = None


@dataclass(frozen=True)
class Entry:
    title: str
    url: str | None
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Notice:
    kind: str
    subject: str
    text: str
    html: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def web_url(url: str | None) -> str | None:
    """Only http(s) links are shown as links (a vendor field could hold anything)."""
    return url if url and urlsplit(url).scheme in ("http", "https") else None


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _followup_entry(item: FollowUpItem, *, with_assignee: bool = False) -> Entry:
    title = f"{item.issue} {item.issue_title}" if item.issue_title else item.issue
    lines = [Line("Customer: ", item.customer or "unknown")] if item.customer or not with_assignee else []
    lines.append(Line("Fixed: ", f"{title} ({when(item.fixed_at)})", web_url(item.issue_url)))
    if with_assignee:
        lines.append(Line("Assignee: ", item.assignee or "nobody"))
        lines.append(Line("Due since: ", when(item.due_at)))
    return Entry(item.ticket.label, web_url(item.ticket.url), tuple(lines))


def reminder_notice(assignee: str | None, items: list[FollowUpItem]) -> Notice:
    """One reminder to one agent listing every customer to tell that their bug is fixed."""
    first = items[0]
    subject = (
        f"Follow up: tell {first.customer or 'the customer'} that {first.issue} is fixed"
        if len(items) == 1
        else f"Follow up: {plural(len(items), 'customer')} can hear their bug is fixed"
    )
    data = {"type": "followup.reminder", "assignee": assignee, "followups": [i.json() for i in items]}
    return compose(
        "followup.reminder",
        subject,
        f"Hello {assignee}," if assignee else "Hello,",
        "These customers reported a bug that is now fixed. Please let them know:",
        [_followup_entry(i) for i in items],
        "A public reply on the ticket marks its follow-up done.",
        data,
    )


def escalation_notice(lead: str | None, items: list[FollowUpItem]) -> Notice:
    """Overdue follow-ups, to the team lead."""
    subject = f"Overdue follow-ups: {plural(len(items), 'customer')} not told their bug is fixed"
    data = {"type": "followup.escalation", "lead": lead, "followups": [i.json() for i in items]}
    return compose(
        "followup.escalation",
        subject,
        f"Hello {lead}," if lead else "Hello,",
        "These customers have not been told that the bug they reported is fixed, past the follow-up time:",
        [_followup_entry(i, with_assignee=True) for i in items],
        "Each follow-up ends when an agent replies publicly on the ticket or marks it done.",
        data,
    )


def tat_notice(assignee: str | None, items: list[TatItem]) -> Notice:
    """TAT breaches and warnings of one agent's tickets."""
    breaches = sum(1 for i in items if i.kind == "breach")
    parts = [plural(breaches, "breach", "breaches")] if breaches else []
    parts += [plural(len(items) - breaches, "warning")] if len(items) > breaches else []
    entries = [
        Entry(
            i.ticket.label,
            web_url(i.ticket.url),
            (
                Line(
                    "Breached: " if i.kind == "breach" else "Due soon: ",
                    f"{METRICS.get(i.metric, i.metric)} target of policy {i.policy!r}",
                ),
                Line("At: " if i.kind == "breach" else "Warned at: ", when(i.at)),
            ),
        )
        for i in items
    ]
    data = {"type": "tat.alert", "assignee": assignee, "events": [i.json() for i in items]}
    return compose(
        "tat.alert",
        f"TAT: {' and '.join(parts)}",
        f"Hello {assignee}," if assignee else "Hello,",
        "Turnaround-time targets on these tickets ran out or are about to:",
        entries,
        "Times are business time of each ticket's policy calendar.",
        data,
    )


def compose(
    kind: str, subject: str, greeting: str, intro: str, entries: list[Entry], footer: str, data: dict[str, Any]
) -> Notice:
    context = {"subject": subject, "greeting": greeting, "intro": intro, "entries": entries, "footer": footer}
    return Notice(kind, subject, _text(**context), _html().render(**context), _blocks(**context), data)


def _text(subject: str, greeting: str, intro: str, entries: list[Entry], footer: str) -> str:
    out = [greeting, "", intro, ""]
    for entry in entries:
        out.append(f"- {entry.title}")
        if entry.url:
            out.append(f"  {entry.url}")
        out += [f"  {line.label}{line.text}" + (f" {line.url}" if line.url else "") for line in entry.lines]
        out.append("")
    out += [footer, "", f"-- {SIGNATURE}"]
    return "\n".join(out) + "\n"


@cache
def _html() -> Any:
    env = Environment(
        loader=PackageLoader("helpdesk_retain", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    return env.get_template("notify/message.html")


def mrkdwn(text: str) -> str:
    """Slack's escaping: &, < and > are control characters in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(text: str, url: str | None) -> str:
    if url and not any(ch in url for ch in "<>| "):
        return f"<{url}|{mrkdwn(text)}>"
    return mrkdwn(text)


def _blocks(subject: str, greeting: str, intro: str, entries: list[Entry], footer: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(f"{greeting} {intro}")[:3000]}},
    ]
    for entry in entries:
        lines = [f"*{slack_link(entry.title, entry.url)}*"]
        lines += [mrkdwn(line.label) + slack_link(line.text, line.url) for line in entry.lines]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(footer)}]})
    return blocks
