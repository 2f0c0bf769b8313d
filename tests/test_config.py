"""Configuration errors name the key path and stop startup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk_retain.config import ConfigError, load_settings, settings_from_dict
from helpdesk_retain.runtime import build_integrations


def problems(data: dict, environ: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings = settings_from_dict(data, environ=environ or {})
        build_integrations(settings)
    return info.value.problems


def test_a_missing_secret_names_the_key():
    assert problems({"sources": {"zendesk": {"plugin": "generic"}}}) == ["sources.zendesk.secret: Field required"]


def test_an_unknown_key_names_the_key():
    assert problems({"server": {"max_body": 5}}) == ["server.max_body: Extra inputs are not permitted"]


def test_an_unknown_plugin_key_is_refused_by_the_plugin_config():
    found = problems({"sources": {"g": {"plugin": "generic", "secret": "s", "colour": "red"}}})
    assert found == ["sources.g.colour: Extra inputs are not permitted"]


def test_a_bad_value_names_the_key():
    assert problems({"server": {"replay_window_seconds": "soon"}})[0].startswith("server.replay_window_seconds:")


def test_an_unset_environment_secret_names_the_key_and_variable():
    found = problems({"sources": {"g": {"plugin": "generic", "secret": {"env": "NOPE_SECRET"}}}})
    assert found == ["sources.g.secret: environment variable NOPE_SECRET is not set"]


def test_an_environment_secret_is_read():
    settings = settings_from_dict(
        {"sources": {"g": {"plugin": "generic", "secret": {"env": "G_SECRET"}}}}, environ={"G_SECRET": "whsec_AAAA"}
    )
    assert build_integrations(settings)["g"].config.secret.get_secret_value() == "whsec_AAAA"


def test_an_environment_override_replaces_a_file_value():
    settings = settings_from_dict(
        {"database": {"url": "sqlite:///a.db"}}, environ={"HELPDESK_RETAIN__DATABASE__URL": "sqlite:///b.db"}
    )
    assert settings.database.url == "sqlite:///b.db"


def test_an_uninstalled_plugin_stops_startup_with_the_reason():
    found = problems({"sources": {"x": {"plugin": "nosuch", "secret": "s"}}})
    assert found[0].startswith("sources.x.plugin: plugin 'nosuch' is not installed")


def test_a_bad_source_name_is_refused():
    assert problems({"sources": {"Bad Name!": {"plugin": "generic", "secret": "s"}}})[0].startswith("sources:")


def test_a_bad_digest_send_at_names_the_key():
    assert problems({"digest": {"send_at": "monday 8am"}})[0].startswith("digest.send_at:")


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text("[database\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(path)


def test_the_example_config_is_valid(monkeypatch):
    for name in ("GENERIC_WEBHOOK_SECRET",):
        monkeypatch.setenv(name, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    settings = load_settings(Path(__file__).parent.parent / "config.example.toml")
    assert "generic" in build_integrations(settings)


def test_check_config_exits_2_and_names_the_key(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('[sources.zendesk]\nplugin = "generic"\n')
    result = subprocess.run(
        [sys.executable, "-m", "helpdesk_retain.cli", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "sources.zendesk.secret: Field required" in result.stderr
