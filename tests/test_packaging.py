"""The wheel holds every plugin; plugin folders, the packages list and the entry points agree."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


#: plugin kind (the module every folder of that kind has) -> its entry-point group
KINDS = {"integration": "helpdesk_retain.integrations", "notifier": "helpdesk_retain.notifiers"}


def plugin_folders(kind: str | None = None) -> set[str]:
    """Plugin folder names; with ``kind``, those holding ``<kind>.py``."""
    folders = [p for p in (ROOT / "plugins").iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    return {p.name for p in folders if kind is None or (p / f"{kind}.py").is_file()}


def test_every_plugin_folder_is_exactly_one_kind_of_plugin():
    assert plugin_folders("integration") | plugin_folders("notifier") == plugin_folders()
    assert not plugin_folders("integration") & plugin_folders("notifier")


def test_plugin_folders_packages_and_entry_points_agree():
    packages = {
        p.rsplit(".", 1)[1]
        for p in PYPROJECT["tool"]["setuptools"]["packages"]
        if p.startswith("helpdesk_retain.plugins.")
    }
    assert packages == plugin_folders()
    for kind, group in KINDS.items():
        entry_points = PYPROJECT["project"]["entry-points"][group]
        assert set(entry_points) == plugin_folders(kind), group
        for slug, target in entry_points.items():
            assert target.startswith(f"helpdesk_retain.plugins.{slug}.{kind}:")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build from a clean checkout of the committed tree plus the working changes, like CI's clone."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return next(out.glob("*.whl"))


def test_the_wheel_contains_every_plugin_folder_and_its_entry_point(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for kind in KINDS:
        for slug in plugin_folders(kind):
            assert f"helpdesk_retain/plugins/{slug}/{kind}.py" in names, slug
            assert f"helpdesk_retain/plugins/{slug}/README.md" in names, slug
            assert any(n.startswith(f"helpdesk_retain/plugins/{slug}/fixtures/") for n in names), slug
            assert f"{slug} = helpdesk_retain.plugins.{slug}.{kind}:" in text
    assert not any(n.startswith("plugins/") for n in names)


def test_the_wheel_contains_the_migrations(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    assert "helpdesk_retain/migrations/env.py" in names
    assert any(n.startswith("helpdesk_retain/migrations/versions/") and n.endswith(".py") for n in names)


def test_every_python_package_of_the_tree_is_in_the_packages_list():
    """setuptools silently leaves out a package missing from the explicit list; this catches it."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {
        "helpdesk_retain." + ".".join(p.parent.relative_to(ROOT / "helpdesk_retain").parts)
        for p in (ROOT / "helpdesk_retain").rglob("__init__.py")
    }
    found = {name.rstrip(".") for name in found}
    found |= {
        "helpdesk_retain.plugins." + ".".join(p.parent.relative_to(ROOT / "plugins").parts)
        for p in (ROOT / "plugins").rglob("__init__.py")
    }
    found = {name.rstrip(".") for name in found}
    assert found <= listed, sorted(found - listed)
