"""Find tracker references (bug links) in ticket text and fields, and help-desk ticket URLs in issues.

Pure functions over strings; no database. Normalized form (CONTRACT.md): ``github`` ``owner/repo#n``,
``gitlab`` ``group/sub/project#iid``, ``jira`` ``KEY-n``, ``linear`` ``KEY-n``. ``Ref.key`` is what links
and issues are matched on: GitHub and GitLab paths compare case-insensitively (both hosts treat them
so, and people type URLs by hand), Jira and Linear keys are upper case.

Recognised in free text (subject, description, comments):
- GitHub ``[https://][www.]github.com/<owner>/<repo>/issues/<n>``
- GitLab ``https://<any host>/<group>/<subgroups>/<project>/-/issues/<iid>`` (also ``/-/work_items/<iid>``)
- Jira ``[https://]<site>.atlassian.net/browse/<KEY-n>`` (also ``?selectedIssue=KEY-n``, ``.../issues/KEY-n``
  and the service-desk portal form), the same on configured self-hosted ``jira_hosts``
- Linear ``[https://]linear.app/<org>/issue/<KEY-n>[/<slug>]``
- bare ``KEY-123`` only for configured ``jira_projects`` / ``linear_teams``, never inside a URL
In structured values (``ev.links``, configured link fields) a whole value that is a key (``APP-12``) or
``owner/repo#n`` is accepted too: the field says what it holds. Tags match configured ``tag_patterns``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .config import LinksSettings
from .events import TicketEvent

PATH_TRACKERS = frozenset({"github", "gitlab"})
KEY_TRACKERS = frozenset({"jira", "linear"})

# A URL runs over printable ASCII: CJK text or full-width punctuation right after a URL ends it.
# Scheme-less forms are accepted only for the hosted trackers, where the host itself is unambiguous;
# they are found by searching for the host name (str.find), far faster than a regex that has to try
# every position of the text.
_URL = re.compile(r"https?://[!-~]+")  # case-sensitive: a literal prefix lets the regex engine skip ahead fast
_KEY_NUMBER = re.compile(r"(\d+)(?![A-Za-z0-9_]|-\d)")
_NOT_BEFORE_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/#.-")
_RUN = re.compile(r"[!-~]+")
_HOSTED = ("github.com/", ".atlassian.net/", "linear.app/")
_SUBDOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_NOT_BEFORE_HOST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@/:-")
_GITHUB = re.compile(
    r"(?:https?://)?(?:www\.)?github\.com/(?P<owner>[a-z0-9][a-z0-9-]*)/(?P<repo>[a-z0-9._-]+)/issues/(?P<n>\d+)",
    re.IGNORECASE | re.ASCII,
)
_GITLAB = re.compile(
    r"https?://(?P<host>[a-z0-9.-]+(?::\d+)?)/(?P<path>[\w.-]+(?:/[\w.-]+)+)/-/(?:issues|work_items)/(?P<n>\d+)",
    re.IGNORECASE | re.ASCII,
)
_JIRA_PATH = (
    r"/(?:browse/|jira/[!-~]*?/issues/|servicedesk/customer/portal/\d+/|[!-~]*?[?&]selectedIssue=)"
    r"(?P<key>[a-z][a-z0-9_]*-\d+)"
)
_LINEAR = re.compile(
    r"(?:https?://)?linear\.app/(?P<org>[\w-]+)/issue/(?P<key>[a-z][a-z0-9]*-\d+)", re.IGNORECASE | re.ASCII
)
_WHOLE_KEY = re.compile(r"\s*(?P<prefix>[a-z][a-z0-9_]+)-(?P<n>\d+)\s*", re.IGNORECASE | re.ASCII)
_WHOLE_PATH = re.compile(r"\s*(?P<path>[\w.-]+(?:/[\w.-]+)+)#(?P<n>\d+)\s*", re.ASCII)


@dataclass(frozen=True, slots=True)
class Ref:
    """One tracker issue: ``issue`` as shown, ``key`` as matched, ``url`` canonical when known."""

    tracker: str
    issue: str
    key: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """A reference and where it was found: ``subject``, ``description``, ``comment:<id>``,
    ``field:<name>``, ``tag:<tag>`` or ``integration`` (the plugin's structured links)."""

    ref: Ref
    origin: str


def make_ref(tracker: str, issue: str, url: str | None = None) -> Ref:
    """Normalize a tracker's issue name (also what trackers' ``IssueEvent.issue`` goes through)."""
    tracker = tracker.strip().lower()
    issue = issue.strip()
    if tracker in PATH_TRACKERS and "#" in issue:
        path, _, number = issue.rpartition("#")
        issue = f"{path.strip('/')}#{int(number)}" if number.isdigit() else issue
        return Ref(tracker, issue, issue.lower(), url)
    if tracker in KEY_TRACKERS:
        issue = issue.upper()
        prefix, _, number = issue.rpartition("-")
        if prefix and number.isdigit():
            issue = f"{prefix}-{int(number)}"
    return Ref(tracker, issue, issue, url)


class Extractor:
    """Compiled once per ``[links]`` settings (see ``extractor``); safe to share between threads."""

    def __init__(self, cfg: LinksSettings) -> None:
        self.cfg = cfg
        hosts = [r"[a-z0-9-]+\.atlassian\.net"] + [re.escape(h.strip("/")) for h in cfg.jira_hosts]
        self._jira = re.compile(rf"(?:https?://)?(?P<host>{'|'.join(hosts)}){_JIRA_PATH}", re.IGNORECASE | re.ASCII)
        self._prefix_tracker = {k: "linear" for k in cfg.linear_teams} | {k: "jira" for k in cfg.jira_projects}
        self._tags = [(re.compile(p.pattern, re.IGNORECASE), p) for p in cfg.tag_patterns]

    # --- free text --------------------------------------------------------------------------

    def in_text(self, text: str | None) -> list[Ref]:
        """References in ``text``, in order of appearance, deduplicated."""
        if not text:
            return []
        found: list[tuple[int, Ref]] = []
        spans: list[tuple[int, int]] = []
        for start, url in _urls(text):
            spans.append((start, start + len(url)))
            ref = self.url_ref(url)
            if ref is not None:
                found.append((start, ref))
        if self._prefix_tracker:
            found.extend(self._bare_keys(text, sorted(spans)))
        if not found:  # most texts: every ingested subject, description and comment is read
            return []
        found.sort(key=lambda pair: pair[0])
        return list(_unique(ref for _, ref in found))

    def _bare_keys(self, text: str, url_spans: list[tuple[int, int]]) -> Iterator[tuple[int, Ref]]:
        """Configured ``KEY-123`` outside URLs. Found with str.find per key (much faster than a regex trying
        every position); the boundaries are ASCII-only, so a key glued to Chinese text (修复APP-12) counts."""
        starts = [s for s, _ in url_spans]
        for prefix, tracker in self._prefix_tracker.items():
            hint = prefix + "-"
            at = text.find(hint)
            while at >= 0:
                number = _KEY_NUMBER.match(text, at + len(hint))
                i = bisect.bisect_right(starts, at) - 1
                in_url = i >= 0 and at < url_spans[i][1]  # e.g. a wiki page named after the issue
                if number and not in_url and (at == 0 or text[at - 1] not in _NOT_BEFORE_KEY):
                    yield at, make_ref(tracker, f"{prefix}-{number.group(1)}")
                at = text.find(hint, at + len(hint))

    def url_ref(self, url: str) -> Ref | None:
        """The reference a single URL points at, with its canonical URL, or None."""
        if m := _GITHUB.match(url):
            owner, repo, n = m.group("owner", "repo", "n")
            return make_ref("github", f"{owner}/{repo}#{n}", f"https://github.com/{owner}/{repo}/issues/{int(n)}")
        if m := _LINEAR.match(url):
            key = m.group("key").upper()
            return make_ref("linear", key, f"https://linear.app/{m.group('org')}/issue/{key}")
        if m := self._jira.match(url):
            key = m.group("key").upper()
            return make_ref("jira", key, f"https://{m.group('host').lower()}/browse/{key}")
        if m := _GITLAB.match(url):
            host, path, n = m.group("host").lower(), m.group("path"), m.group("n")
            return make_ref("gitlab", f"{path}#{n}", f"https://{host}/{path}/-/issues/{int(n)}")
        return None

    def _key_ref(self, prefix: str, number: str) -> Ref:
        prefix = prefix.upper()
        tracker = self._prefix_tracker.get(prefix, "jira")
        return make_ref(tracker, f"{prefix}-{number}")

    # --- structured values ------------------------------------------------------------------

    def in_value(self, value: Any) -> list[Ref]:
        """References in a field value (string, number or list): a whole-value key or ``owner/repo#n``
        counts even without configuration, since the field is configured to hold issue references."""
        refs: list[Ref] = []
        for text in _strings(value):
            in_text = self.in_text(text)
            if in_text:
                refs.extend(in_text)
            elif m := _WHOLE_KEY.fullmatch(text):
                refs.append(self._key_ref(m.group("prefix"), m.group("n")))
            elif m := _WHOLE_PATH.fullmatch(text):
                refs.append(make_ref("github", f"{m.group('path')}#{m.group('n')}"))
        return list(_unique(refs))

    def in_tag(self, tag: str) -> list[Ref]:
        refs = []
        for regex, pattern in self._tags:
            if m := regex.fullmatch(tag.strip()):
                groups = {k: v for k, v in m.groupdict().items() if v is not None}
                refs.append(make_ref(pattern.tracker, pattern.issue.format(**groups)))
        return refs

    # --- a whole ticket event ---------------------------------------------------------------

    def ticket_refs(self, ev: TicketEvent, link_fields: Iterable[str] = ()) -> list[Found]:
        """Every reference a ticket event carries, each once, with the first place it was found."""
        return list(_first_origin(self._ticket_found(ev, link_fields)))

    def _ticket_found(self, ev: TicketEvent, link_fields: Iterable[str]) -> Iterator[Found]:
        for origin, text in (("subject", ev.subject), ("description", ev.description)):
            yield from (Found(ref, origin) for ref in self.in_text(text))
        if ev.comment is not None:
            yield from (Found(ref, f"comment:{ev.comment.id}") for ref in self.in_text(ev.comment.body))
        for name in link_fields:
            if name in ev.custom_fields:
                yield from (Found(ref, f"field:{name}") for ref in self.in_value(ev.custom_fields[name]))
        for tag in ev.tags or ():
            yield from (Found(ref, f"tag:{tag}") for ref in self.in_tag(tag))
        yield from (Found(ref, "integration") for ref in self.in_value(list(ev.links)))


@lru_cache(maxsize=32)
def extractor(cfg: LinksSettings) -> Extractor:
    """The compiled extractor for these settings (settings are frozen and hashable)."""
    return Extractor(cfg)


def _urls(text: str) -> list[tuple[int, str]]:
    """``(start, url)`` of URL-like runs in ``text``: with a scheme, or a scheme-less hosted tracker URL."""
    found = [(m.start(), m.group()) for m in _URL.finditer(text)] if "://" in text else []
    for host in _HOSTED:
        at = text.find(host)
        while at >= 0:
            start = at
            if host[0] == ".":  # <site>.atlassian.net: the site name comes first
                while start > 0 and text[start - 1] in _SUBDOMAIN_CHARS:
                    start -= 1
            elif text[max(0, at - 4) : at].lower() == "www.":
                start -= 4
            if (start < at or host[0] != ".") and (start == 0 or text[start - 1] not in _NOT_BEFORE_HOST):
                found.append((start, _RUN.match(text, start).group()))  # type: ignore[union-attr]
            at = text.find(host, at + len(host))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, Mapping):  # e.g. {"key": "APP-1", "url": "..."} from a synced field
        for item in value.values():
            yield from _strings(item)


def _unique(refs: Iterable[Ref]) -> Iterator[Ref]:
    seen: set[tuple[str, str]] = set()
    for ref in refs:
        if (ref.tracker, ref.key) not in seen:
            seen.add((ref.tracker, ref.key))
            yield ref


def _first_origin(found: Iterable[Found]) -> Iterator[Found]:
    seen: set[tuple[str, str]] = set()
    for item in found:
        ident = (item.ref.tracker, item.ref.key)
        if ident not in seen:
            seen.add(ident)
            yield item


# --- help-desk ticket URLs inside issues ----------------------------------------------------------

#: (plugin slug, pattern): ``id`` is the ticket's external id as that plugin stores it (CONTRACT.md). Paths, not
#: host names, identify Zendesk and Freshdesk, so host-mapped and self-hosted desks are found too.
_HOST = r"https?://(?P<host>[a-z0-9.-]+(?::\d+)?)"
TICKET_URLS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (slug, re.compile(_HOST + pattern, re.IGNORECASE | re.ASCII))
    for slug, pattern in (
        ("zendesk", r"/(?:agent/tickets|hc/(?:[a-z-]+/)?requests)/(?P<id>\d+)"),
        ("freshdesk", r"/(?:a/tickets|helpdesk/tickets|support/tickets)/(?P<id>\d+)"),
        ("zammad", r"/[!-~]*?#ticket/zoom/(?P<id>\d+)"),
        ("helpscout", r"(?<=secure\.helpscout\.net)/conversation/(?P<id>\d+)"),
        ("intercom", r"(?:(?<=\.intercom\.com)|(?<=\.intercom\.io))/a/[!-~]*?/(?:conversations?|tickets)/(?P<id>\d+)"),
        ("front", r"(?<=app\.frontapp\.com)/open/(?P<id>cnv_[a-z0-9]+)"),
    )
)


@dataclass(frozen=True, slots=True)
class TicketRef:
    """A help-desk ticket URL found in an issue. ``plugin`` is the URL shape recognised (its ``external_id``
    the ticket id), or None for any other URL, which can still match a ticket's stored ``url`` exactly."""

    plugin: str | None
    host: str
    external_id: str
    url: str


def ticket_refs(texts: Iterable[str]) -> list[TicketRef]:
    """Help-desk ticket URLs in ``texts`` (an issue's links or body), deduplicated."""
    refs: dict[tuple[str | None, str, str], TicketRef] = {}
    for text in texts:
        for _, run in _urls(text or ""):
            url = run.rstrip(".,;:!?)]}>'\"")
            ref = TicketRef(None, "", "", url)
            for slug, regex in TICKET_URLS:
                if hit := regex.match(url):
                    ref = TicketRef(slug, hit.group("host").lower(), hit.group("id"), url)
                    break
            refs.setdefault((ref.plugin, ref.external_id, ref.host if ref.plugin else url), ref)
    return list(refs.values())
