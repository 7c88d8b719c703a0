"""How the root command line finds the parts, and how settings sections are registered."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

import fieldwatch.settings as settings_module
from fieldwatch.cli import app, installed_command_modules
from fieldwatch.settings import FieldwatchSettings, SettingsError, load_settings, settings_sections


@pytest.fixture
def own_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sections registered by a test vanish with it."""
    monkeypatch.setattr(settings_module, "_sections", dict(settings_module._sections))


def write_package(root: Path, name: str, cli_source: str) -> None:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text(textwrap.dedent(cli_source))


def test_the_checkout_lists_every_part_and_the_developer_tools() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("cloud", "edge", "config", "demo", "simulate", "bench"):
        assert f" {command} " in result.stdout, command


def test_a_part_that_is_not_installed_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_package(tmp_path, "fw_part_present", "import typer\napp = typer.Typer(name='present')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = installed_command_modules(("fw_part_absent.cli", "fw_part_present.cli"))
    assert [module.__name__ for module in modules] == ["fw_part_present.cli"]


def test_an_installed_part_that_fails_to_import_is_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The failure of the issue: the part is there, a module it needs is not.
    write_package(tmp_path, "fw_part_broken", "import typer\nimport fw_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="fw_missing_dependency"):
        installed_command_modules(("fw_part_broken.cli",))


def test_a_command_module_must_define_its_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_package(tmp_path, "fw_part_appless", "commands = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match="defines no `app`"):
        installed_command_modules(("fw_part_appless.cli",))


def test_the_deployables_register_their_own_sections() -> None:
    sections = settings_sections()
    assert {"cloud", "edge"} <= set(sections)
    assert all(cls.section == name for name, cls in sections.items())


@pytest.mark.usefixtures("own_sections")
def test_a_new_part_s_section_is_accepted_and_a_misspelling_still_refused(tmp_path: Path) -> None:
    class RelaySettings(FieldwatchSettings):
        section: ClassVar[str] = "relay"

        hops: int = 1

    config = tmp_path / "fieldwatch.toml"
    config.write_text("[relay]\nhops = 3\n[edge]\n")
    assert load_settings(RelaySettings, config).hops == 3
    config.write_text("[rleay]\nhops = 3\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(RelaySettings, config)
    assert "unknown section [rleay]" in caught.value.problems[0]
    assert "[relay]" in caught.value.problems[0]


@pytest.mark.usefixtures("own_sections")
def test_two_classes_cannot_claim_one_section() -> None:
    with pytest.raises(TypeError, match="both declare section 'edge'"):

        class OtherEdgeSettings(FieldwatchSettings):
            section: ClassVar[str] = "edge"


@pytest.mark.usefixtures("own_sections")
@pytest.mark.parametrize("section", ["all", "Edge", "two words"])
def test_a_section_must_be_a_usable_name(section: str) -> None:
    with pytest.raises(TypeError, match="section"):
        type(
            "BadSettings",
            (FieldwatchSettings,),
            {"__annotations__": {"section": ClassVar[str]}, "section": section},
        )


def test_settings_without_a_section_cannot_be_loaded() -> None:
    with pytest.raises(ValueError, match="declares no section"):
        load_settings(FieldwatchSettings, None)
