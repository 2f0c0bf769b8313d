"""``[calendars.*]`` and ``[[tat.policies]]``: validated at startup, errors name the key."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk_retain.config import ConfigError, settings_from_dict

CALENDAR = {"timezone": "Europe/Berlin", "hours": {"mon": [["09:00", "17:00"]]}}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data, environ={})
    return info.value.problems


def policy(**fields: Any) -> dict[str, Any]:
    return {"name": "p", "calendar": "support", "targets": {"first_response": 60}, **fields}


def test_a_policy_naming_an_unknown_calendar_names_the_key():
    found = problems(
        {"calendars": {"support": CALENDAR}, "tat": {"policies": [policy(), policy(name="q", calendar="x")]}}
    )
    assert len(found) == 1 and found[0].startswith("tat.policies.1.calendar: unknown calendar 'x'")


def test_an_unknown_time_zone_names_the_key():
    found = problems({"calendars": {"support": {**CALENDAR, "timezone": "Europe/Atlantis"}}})
    assert found[0].startswith("calendars.support.timezone:")


def test_a_bad_opening_time_names_the_interval():
    found = problems({"calendars": {"support": {**CALENDAR, "hours": {"tue": [["9:00", "17:00"]]}}}})
    assert found[0].startswith("calendars.support.hours.tue.0.0:")


def test_an_unknown_holiday_country_names_the_key():
    found = problems({"calendars": {"support": {**CALENDAR, "country_holidays": "XX"}}})
    assert found[0].startswith("calendars.support.country_holidays:")


def test_policy_names_must_be_unique():
    found = problems({"calendars": {"support": CALENDAR}, "tat": {"policies": [policy(), policy()]}})
    assert found[0].startswith("tat.policies:") and "repeated: p" in found[0]


def test_a_solved_status_cannot_pause_a_clock():
    found = problems({"calendars": {"support": CALENDAR}, "tat": {"policies": [policy(pause_on=["solved"])]}})
    assert found[0].startswith("tat.policies.0.pause_on.0:")


def test_a_warning_fraction_above_one_is_refused():
    found = problems({"calendars": {"support": CALENDAR}, "tat": {"policies": [policy(warn_at=1.5)]}})
    assert found[0].startswith("tat.policies.0.warn_at:")


def test_a_match_condition_may_be_one_value_or_a_list_and_defaults_apply():
    data = {
        "calendars": {"support": {"timezone": "UTC", "country_holidays": "DE-BY", "holidays": ["2030-01-02"]}},
        "tat": {"policies": [policy(match={"priority": "urgent", "tags_any": ["vip", "gold"]})]},
    }
    settings = settings_from_dict(data, environ={})
    loaded = settings.tat.policies[0]
    assert loaded.match.priority == ["urgent"] and loaded.match.tags_any == ["vip", "gold"]
    assert loaded.warn_at == 0.8 and loaded.pause_on == ["pending", "on_hold"]
    assert settings.calendars["support"].hours["fri"] == [("09:00", "17:00")]


def test_a_subdivision_known_by_its_name_is_accepted():
    data = {"calendars": {"support": {"timezone": "Europe/Berlin", "country_holidays": "DE-Augsburg"}}}
    assert settings_from_dict(data, environ={}).calendars["support"].country_holidays == "DE-Augsburg"
