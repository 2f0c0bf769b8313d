"""Configuration: one TOML file (+ environment overrides) validated once into typed settings.

Contract: ``load_settings`` either returns a fully validated ``Settings`` or raises ``ConfigError``
whose lines each name a key path (``sources.zendesk.secret: Field required``). Any string may be
written ``{ env = "NAME" }`` to read it from the environment. ``HELPDESK_RETAIN__SECTION__KEY=value``
overrides ``[section] key`` (e.g. ``HELPDESK_RETAIN__DATABASE__URL``). Unknown keys are errors.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_PREFIX = "HELPDESK_RETAIN__"
DEFAULT_PATH = "helpdesk-retain.toml"
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConfigError(Exception):
    """Invalid configuration; ``str()`` lists one ``key.path: reason`` per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str = "sqlite:///helpdesk-retain.db"
    pool_size: int = Field(5, ge=1)
    echo: bool = False
    #: SQLite only: how long a writer waits for the lock before the request answers 503
    busy_timeout_ms: int = Field(5000, ge=0)


class ServerSettings(Section):
    max_body_bytes: int = Field(1_048_576, ge=1024)
    replay_window_seconds: int = Field(300, ge=1)
    retry_after_seconds: int = Field(30, ge=1)
    threads: int = Field(8, ge=1)


class InboxSettings(Section):
    purge_processed_after_days: int = Field(30, ge=1)


class OutboxSettings(Section):
    path: str = "outbox"


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    sender: str = "helpdesk-retain@localhost"
    timeout_seconds: float = 10.0


class DigestSettings(Section):
    """``[digest]``: the weekly email (see ``helpdesk_retain.digest``)."""

    #: who gets it; empty: no digest is sent (previews still work)
    recipients: list[str] = []
    #: weekday and local time in ``timezone`` after which last week's digest is due
    send_at: str = "mon 08:00"
    #: IANA zone the weeks are cut in (Monday 00:00 to Monday 00:00 local time) and send_at is read in
    timezone: str = "UTC"
    language: Literal["en", "zh-Hans"] = "en"
    #: the ``[notify.channels.<name>]`` the digest is sent through (an email channel)
    channel: str = "email"
    #: public address of this service, e.g. "https://retain.example.com"; adds a "view in the browser" link
    base_url: str | None = None

    @field_validator("send_at")
    @classmethod
    def _send_at(cls, value: str) -> str:
        if not re.fullmatch(r"(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError('expected "<mon..sun> HH:MM", e.g. "mon 08:00"')
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", address.strip()):
                raise ValueError(f"{address!r} is not an email address")
        return [a.strip() for a in value]


class SchedulerSettings(Section):
    sweep_seconds: int = Field(30, ge=1)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _clock_time(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d|24:00", value):
        raise ValueError('expected local time "HH:MM" (00:00 to 23:59, or 24:00 to close at midnight)')
    return value


ClockTime = Annotated[str, AfterValidator(_clock_time)]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


#: a match condition: one value or a non-empty list of values (any of them matches)
MatchValues = Annotated[list[str], BeforeValidator(_one_or_many), Field(min_length=1)]


class CalendarSettings(Section):
    """``[calendars.<name>]``: business hours in a zone, minus holidays (DESIGN.md §5)."""

    timezone: str = "UTC"
    #: weekday -> [[start, end], ...] local "HH:MM"; an end at or before its start runs past midnight
    hours: dict[Weekday, list[tuple[ClockTime, ClockTime]]] = {d: [("09:00", "17:00")] for d in WEEKDAYS[:5]}
    holidays: list[date] = []
    #: a country (or country-subdivision) code of the ``holidays`` package, e.g. "DE" or "DE-BY"
    country_holidays: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("country_holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        from .tat.calendar import country_code

        if value is not None:
            try:
                country_code(value)
            except NotImplementedError as exc:
                raise ValueError(f"{value!r} is not known to the holidays package: {exc}") from None
        return value

    @model_validator(mode="after")
    def _buildable(self) -> CalendarSettings:
        from .tat.calendar import BusinessCalendar

        BusinessCalendar.from_config(self)  # its ValueError names the key (e.g. an interval opening at 24:00)
        return self


class PolicyMatch(Section):
    """Conditions of a TAT policy; all given ones must hold, an absent one matches anything."""

    priority: list[Literal["low", "normal", "high", "urgent"]] | None = None
    channel: MatchValues | None = None
    tags_any: MatchValues | None = None
    type: MatchValues | None = None
    category: MatchValues | None = None
    plan: MatchValues | None = None

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Any:
        return _one_or_many(value)


class PolicyTargets(Section):
    """Targets in business minutes; a metric left out has no clock under this policy."""

    first_response: int | None = Field(None, gt=0)
    next_response: int | None = Field(None, gt=0)
    resolution: int | None = Field(None, gt=0)


class PolicySettings(Section):
    """One ``[[tat.policies]]`` entry."""

    name: str = Field(min_length=1, max_length=100)
    calendar: str
    match: PolicyMatch = PolicyMatch()
    targets: PolicyTargets = PolicyTargets()
    #: fraction of a target after which a warning is recorded
    warn_at: float = Field(0.8, gt=0, le=1)
    #: statuses that pause the resolution clock
    pause_on: list[Literal["new", "open", "pending", "on_hold"]] = ["pending", "on_hold"]


class TatSettings(Section):
    #: ordered; the first policy whose conditions all hold applies
    policies: list[PolicySettings] = []

    @field_validator("policies")
    @classmethod
    def _unique_names(cls, value: list[PolicySettings]) -> list[PolicySettings]:
        names = [p.name for p in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(repeated)}")
        return value


def _check_tat_references(settings: Settings) -> Settings:
    """Every policy names a configured calendar (raised as ConfigError so the key path is exact)."""
    problems = [
        f"tat.policies.{i}.calendar: unknown calendar {p.calendar!r}; define [calendars.{p.calendar}]"
        for i, p in enumerate(settings.tat.policies)
        if p.calendar not in settings.calendars
    ]
    if problems:
        raise ConfigError(problems)
    return settings


TRACKERS = ("github", "gitlab", "jira", "linear")


class TagPattern(Section):
    """A ticket tag that names an issue: ``pattern`` must match the whole tag (case-insensitive); ``issue``
    is a ``str.format`` template over its named groups, e.g. ``bug-(?P<team>[a-z]+)-(?P<n>\\d+)`` with
    ``{team}-{n}`` turns ``bug-web-44`` into ``WEB-44``."""

    pattern: str
    tracker: str
    issue: str

    @field_validator("tracker")
    @classmethod
    def _tracker(cls, value: str) -> str:
        if value not in TRACKERS:
            raise ValueError(f"expected one of {', '.join(TRACKERS)}")
        return value

    @field_validator("issue")
    @classmethod
    def _template(cls, value: str, info: Any) -> str:
        pattern = info.data.get("pattern")
        if pattern is None:
            return value
        try:
            groups = set(re.compile(pattern).groupindex)
        except re.error as exc:
            raise ValueError(f"pattern is not a regular expression: {exc}") from None
        missing = set(re.findall(r"\{(\w+)", value)) - groups
        if missing:
            raise ValueError(f"names {sorted(missing)} are not named groups of the pattern")
        return value


class LinksSettings(Section):
    """How tickets link to tracker issues (see ``helpdesk_retain.links``)."""

    jira_projects: tuple[str, ...] = ()
    linear_teams: tuple[str, ...] = ()
    jira_hosts: tuple[str, ...] = ()
    tag_patterns: tuple[TagPattern, ...] = ()

    @field_validator("jira_projects", "linear_teams")
    @classmethod
    def _keys(cls, value: tuple[str, ...], info: Any) -> tuple[str, ...]:
        keys = tuple(k.strip().upper() for k in value)
        for key in keys:
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
                raise ValueError(f"{key!r} is not a project or team key (letters, digits, _)")
        overlap = set(keys) & set(info.data.get("jira_projects", ()))
        if info.field_name == "linear_teams" and overlap:
            raise ValueError(f"{sorted(overlap)} also listed in jira_projects")
        return keys


class FollowupsSettings(Section):
    """Follow-up reminders when a linked issue is fixed (see ``helpdesk_retain.followups``)."""

    delay_minutes: int = Field(0, ge=0)
    calendar: str | None = None
    escalate_after_minutes: int = Field(480, ge=0)


def _check_followups_calendar(settings: Settings) -> Settings:
    name = settings.followups.calendar
    if name is not None and name not in settings.calendars:
        raise ConfigError([f"followups.calendar: unknown calendar {name!r}; define [calendars.{name}]"])
    return settings


def _currency(value: str | None) -> str | None:
    from .money import MoneyError, currency_code

    try:
        return None if value is None else currency_code(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


class SaveFields(Section):
    """Which ticket custom-field keys hold a save's details (see ``helpdesk_retain.saves``)."""

    amount: str = "save_amount"
    currency: str = "save_currency"
    interval: str = "save_interval"
    reason: str = "save_reason"
    offer: str = "save_offer"


class SavesSettings(Section):
    """Saved customers: custom fields, defaults, verification window, lifetime for CLV."""

    fields: SaveFields = SaveFields()
    #: per-source overrides of ``fields`` (e.g. Zendesk field ids), keyed by source name
    source_fields: dict[str, SaveFields] = {}
    default_currency: Annotated[str, BeforeValidator(_currency)] = "USD"
    verify_after_days: int = Field(60, ge=1)
    expected_lifetime_months: int = Field(24, ge=1)


class MoneySettings(Section):
    """Optional conversion of totals to one currency; without it totals stay per currency."""

    base_currency: Annotated[str | None, BeforeValidator(_currency)] = None
    #: 1 unit of <code> = <rate> units of base_currency, e.g. { EUR = "1.08", GBP = "1.27" }
    rates: dict[str, Annotated[Decimal, Field(gt=0)]] = {}

    @field_validator("rates", mode="before")
    @classmethod
    def _rate_codes(cls, value: Any) -> Any:
        return {_currency(k): v for k, v in value.items()} if isinstance(value, Mapping) else value


TAGGING_CATEGORIES = ("product_defect", "service_quality", "billing", "delivery", "pricing", "usability", "other")
TAGGING_SIGNALS = (
    "cancel_intent",
    "refund_request",
    "data_export",
    "billing_change",
    "downgrade",
    "competitor_mention",
    "legal_threat",
    "repeat_contact",
)


class AtRiskSettings(Section):
    """``[tagging.at_risk]``: when a customer is listed as at risk (retention-facts.md)."""

    #: any of these signals within ``signal_days`` puts the customer at risk
    signals: list[str] = ["cancel_intent", "refund_request", "data_export"]
    signal_days: int = Field(30, ge=1)
    #: ... and so do this many bad experiences (complaints, TAT breaches) within ``bad_experience_days``
    bad_experiences: int = Field(3, ge=1)
    bad_experience_days: int = Field(90, ge=1)

    @field_validator("signals")
    @classmethod
    def _known_signals(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(TAGGING_SIGNALS))
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}; known: {list(TAGGING_SIGNALS)}")
        return value


class TaggingSettings(Section):
    """``[tagging]``: complaint and churn-risk rules (helpdesk_retain/tagging)."""

    #: built-in rule packs to load (helpdesk_retain/tagging/rules/<name>.toml)
    packs: list[Literal["en", "zh"]] = ["en", "zh"]
    #: a team's own pack files (same format), validated at startup
    extra_packs: list[str] = []
    #: competitor names; a mention is a competitor_mention signal
    competitors: list[str] = []
    #: category -> extra complaint phrases; signal -> extra risk phrases
    complaint_terms: dict[str, list[str]] = {}
    risk_terms: dict[str, list[str]] = {}
    #: the Nth ticket of a customer about the same matter within the window is a repeat_contact signal
    repeat_contact_count: int = Field(3, ge=2)
    repeat_contact_days: int = Field(14, ge=1)
    at_risk: AtRiskSettings = AtRiskSettings()

    @field_validator("complaint_terms")
    @classmethod
    def _known_categories(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(TAGGING_CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {list(TAGGING_CATEGORIES)}")
        return value

    @field_validator("risk_terms")
    @classmethod
    def _known_risk_signals(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(TAGGING_SIGNALS))
        if unknown:
            raise ValueError(f"unknown signals {unknown}; known: {list(TAGGING_SIGNALS)}")
        return value

    @field_validator("extra_packs")
    @classmethod
    def _valid_packs(cls, value: list[str]) -> list[str]:
        from .tagging.packs import load_pack

        for path in value:
            try:
                load_pack(path)
            except ConfigError as exc:
                raise ValueError("; ".join(exc.problems)) from None
        return value


class NotifyTeam(Section):
    """``[notify.teams.<name>]``: routing for the agents listed in ``members``."""

    #: assignee emails (case-insensitive); an agent in several teams gets the first team's routing
    members: list[str] = []
    #: channels for the members' reminders and alerts; unset: ``[notify] default_channels``
    channels: list[str] | None = None
    #: where the members' overdue follow-ups escalate; unset: ``[notify] team_lead``
    lead: str | None = None


class NotifyPerson(Section):
    """``[notify.assignees."<email>"]``: one agent's own routing (wins over their team's)."""

    channels: list[str] | None = None
    #: deliver email to this address instead of the assignee address the help desk reports
    email: str | None = None


class NotifySettings(Section):
    """Outbound notifications: channels, routing, and delivery (see ``helpdesk_retain.notify``)."""

    #: raw ``[notify.channels.<name>]`` tables, each validated by its notifier plugin's Config;
    #: none configured means one channel ``email`` (SMTP from ``[smtp]``, else ``.eml`` files in the outbox)
    channels: dict[str, dict[str, Any]] = {}
    default_channels: list[str] = ["email"]
    #: addresses for work without an assignee (and for escalations when no team lead is configured)
    recipients: list[str] = []
    team_lead: str | None = None
    teams: dict[str, NotifyTeam] = {}
    assignees: dict[str, NotifyPerson] = {}
    #: ticket links for tickets whose help desk sent no URL: source name -> template with
    #: ``{external_id}`` / ``{display_id}``, e.g. "https://acme.zendesk.com/agent/tickets/{external_id}"
    ticket_urls: dict[str, str] = {}
    #: which TAT records are sent to the assignee
    tat_events: list[Literal["warning", "breach"]] = ["warning", "breach"]
    #: TAT records older than this when first seen (e.g. after importing history) are not sent
    tat_max_age_minutes: int = Field(1440, ge=1)
    max_attempts: int = Field(8, ge=1)
    #: first retry delay; doubled per attempt with jitter, capped at max_backoff_seconds
    backoff_seconds: float = Field(60.0, gt=0)
    max_backoff_seconds: float = Field(3600.0, gt=0)
    #: a message left in ``sending`` this long (its process died mid-send) is recovered per ``on_stale``
    stale_after_seconds: float = Field(900.0, gt=0)
    on_stale: Literal["retry", "fail"] = "retry"
    #: messages claimed per transaction, their outcomes recorded in one (a crash may resend up to one batch)
    batch_size: int = Field(50, ge=1, le=1000)

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, table in value.items():
            if not SOURCE_NAME.match(name):
                raise ValueError(f"channel name {name!r} must match {SOURCE_NAME.pattern}")
            if not isinstance(table, Mapping) or "plugin" not in table:
                raise ValueError(f"{name}.plugin: Field required")
        return value

    @field_validator("teams")
    @classmethod
    def _lower_members(cls, value: dict[str, NotifyTeam]) -> dict[str, NotifyTeam]:
        return {k: t.model_copy(update={"members": [m.strip().lower() for m in t.members]}) for k, t in value.items()}

    @field_validator("assignees")
    @classmethod
    def _lower_assignees(cls, value: dict[str, NotifyPerson]) -> dict[str, NotifyPerson]:
        return {k.strip().lower(): v for k, v in value.items()}


def _check_notify(settings: Settings) -> Settings:
    """Channel references exist and each channel's plugin accepts its table (ConfigError names the key)."""
    from .notify.channels import check_settings

    problems = check_settings(settings.notify)
    if problems:
        raise ConfigError(problems)
    return settings


class WebSettings(Section):
    """``[web]``: the dashboard's sign-in, cookies and login throttling (see ``helpdesk_retain.web``)."""

    #: signs session cookies and CSRF tokens; unset: one is generated and kept in the database (table
    #: ``web_secrets``), so restarts and every worker share it. ``init`` writes one into the config.
    secret_key: SecretStr | None = None
    #: "auto": cookies are Secure when the request came over HTTPS; true/false force it
    secure_cookies: bool | Literal["auto"] = "auto"
    #: honour X-Forwarded-For/-Proto/-Host from ``proxy_hops`` reverse proxies (only behind your own proxy)
    trust_proxy: bool = False
    proxy_hops: int = Field(1, ge=1, le=5)
    session_hours: int = Field(12, ge=1, le=24 * 30)
    #: failed sign-ins allowed per account and per client address within ``login_window_minutes``
    login_failures_per_account: int = Field(5, ge=1)
    login_failures_per_ip: int = Field(20, ge=1)
    login_window_minutes: int = Field(15, ge=1)
    #: IANA zone times are shown in; unset: ``[digest] timezone``
    timezone: str | None = None
    #: UI language when neither the user's setting nor the browser names one we have
    default_language: Literal["en", "zh_Hans"] = "en"
    page_size: int = Field(50, ge=10, le=200)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return None if value is None else ZoneInfo(value).key
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None


class Settings(Section):
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    inbox: InboxSettings = InboxSettings()
    outbox: OutboxSettings = OutboxSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    smtp: SmtpSettings | None = None
    digest: DigestSettings = DigestSettings()
    links: LinksSettings = LinksSettings()
    followups: FollowupsSettings = FollowupsSettings()
    saves: SavesSettings = SavesSettings()
    money: MoneySettings = MoneySettings()
    #: raw per-source tables; each is validated by its plugin's own Config in ``validate_sources``
    sources: dict[str, dict[str, Any]] = {}
    calendars: dict[str, CalendarSettings] = {}
    tat: TatSettings = TatSettings()
    tagging: TaggingSettings = TaggingSettings()
    notify: NotifySettings = NotifySettings()
    web: WebSettings = WebSettings()
    check_tat_references = model_validator(mode="after")(_check_tat_references)
    check_followups_calendar = model_validator(mode="after")(_check_followups_calendar)
    check_notify = model_validator(mode="after")(_check_notify)

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, table in value.items():
            if not SOURCE_NAME.match(name):
                raise ValueError(f"source name {name!r} must match {SOURCE_NAME.pattern}")
            if "plugin" not in table:
                raise ValueError(f"{name}.plugin: Field required")
        return value


def format_errors(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in (*prefix, *err["loc"]))
        problems.append(f"{path}: {err['msg']}")
    return problems


def _resolve_env(value: Any, path: tuple[str, ...], problems: list[str], environ: Mapping[str, str]) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"env"} and isinstance(value["env"], str):
            found = environ.get(value["env"])
            if found is None:
                problems.append(f"{'.'.join(path)}: environment variable {value['env']} is not set")
            return found
        return {k: _resolve_env(v, (*path, k), problems, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, (*path, str(i)), problems, environ) for i, v in enumerate(value)]
    return value


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        if keys:
            target[keys[-1]] = value


def settings_from_dict(data: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Validate a parsed TOML document (tests build settings this way)."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = _deepcopy(data)
    _apply_env_overrides(merged, environ)
    problems: list[str] = []
    resolved = _resolve_env(merged, (), problems, environ)
    if problems:
        raise ConfigError(problems)
    try:
        return Settings.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None


def _deepcopy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("HELPDESK_RETAIN_CONFIG") or DEFAULT_PATH)


def load_settings(path: str | Path) -> Settings:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
    return settings_from_dict(data)
