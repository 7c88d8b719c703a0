"""The ``fieldwatch`` command line.

The root knows no part by import. It adds the command groups of the modules named in
``COMMAND_MODULES`` that are installed: a production install (the wheel, the image) has
``cloud`` and ``edge``; a checkout also has the developer tools of ``fieldwatch_dev``
(``demo``, ``simulate``, ``bench``). ``config show`` and ``config check`` work on the
settings of every installed part: each part's settings class registers its own section
(``fieldwatch.settings.settings_sections``).

The commands are the wiring place: they build settings with ``load_settings`` at start-up and
hand them on. A bad setting ends any command with one line per problem and exit code 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from fieldwatch.options import SETTINGS_EXIT_CODE, ConfigFileOption, print_settings_error
from fieldwatch.settings import (
    FieldwatchSettings,
    LoadedSettings,
    SettingsError,
    env_var,
    load_settings_with_origins,
    masked_values,
    settings_sections,
)

# Each module defines ``app``, a typer.Typer: one with a name becomes that command group,
# one without adds its commands to the root. Listed rather than found through entry
# points because one distribution holds them all: the wheel's metadata would advertise
# fieldwatch_dev's commands without shipping fieldwatch_dev.
COMMAND_MODULES = ("cloud.cli", "edge.cli", "fieldwatch_dev.cli")
ALL_PARTS = "all"

app = typer.Typer(
    name="fieldwatch",
    help="Supervision bracelets and river water quality: edge gateways and the cloud service.",
    no_args_is_help=True,
    add_completion=False,
    # Locals in a traceback could hold secrets.
    pretty_exceptions_show_locals=False,
)


def is_installed(module_name: str) -> bool:
    """Whether the top-level package of ``module_name`` can be imported here."""
    return importlib.util.find_spec(module_name.partition(".")[0]) is not None


def installed_command_modules(names: tuple[str, ...] = COMMAND_MODULES) -> list[ModuleType]:
    """Import the command modules whose package is installed; skip the others.

    Only a missing top-level package means "not installed". An installed module that fails
    to import (a missing dependency, a bug) raises here, so the command line fails loudly
    instead of quietly losing a command group.
    """
    modules = []
    for name in names:
        if not is_installed(name):
            continue
        module = importlib.import_module(name)
        if not isinstance(getattr(module, "app", None), typer.Typer):
            raise TypeError(f"command module {name} defines no `app` (a typer.Typer)")
        modules.append(module)
    return modules


for _module in installed_command_modules():
    app.add_typer(_module.app)

config_app = typer.Typer(
    help="Show and check the settings of each deployable.", no_args_is_help=True
)
app.add_typer(config_app, name="config")


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


# Which deployable's settings a command works on: the sections of the settings classes
# that the command modules above brought in, and "all". Built here, after the discovery.
Part = StrEnum(  # type: ignore[misc]  # members known only at run time
    "Part", {name: name for name in [*settings_sections(), ALL_PARTS]}
)
PartOption = Annotated[Part, typer.Option("--part", "-p", help="Deployable to work on.")]
EVERY_PART = Part(ALL_PARTS)


def load_parts(
    part: str, config_file: Path | None
) -> dict[str, LoadedSettings[FieldwatchSettings]]:
    """Load every selected deployable's settings; all problems of all parts in one error."""
    sections = settings_sections()
    chosen = str(part)
    names = list(sections) if chosen == ALL_PARTS else [chosen]
    loaded: dict[str, LoadedSettings[FieldwatchSettings]] = {}
    problems: list[str] = []
    for name in names:
        try:
            loaded[name] = load_settings_with_origins(sections[name], config_file)
        except SettingsError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise SettingsError(problems)
    return loaded


@config_app.command("show")
def config_show(
    part: PartOption = EVERY_PART,
    config: ConfigFileOption = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text (TOML-like) or json.")
    ] = OutputFormat.text,
) -> None:
    """Print the effective settings, secrets masked, and where each value came from."""
    try:
        loaded = load_parts(part, config)
    except SettingsError as exc:
        print_settings_error(exc)
        raise typer.Exit(SETTINGS_EXIT_CODE) from None
    if output_format is OutputFormat.json:
        document: dict[str, object] = {"config_file": str(config) if config else None}
        for name, item in loaded.items():
            document[name] = {"values": masked_values(item.settings), "sources": item.origins}
        typer.echo(json.dumps(document, indent=2))
        return
    typer.echo(f"# config file: {config if config else '(none)'}")
    for name, item in loaded.items():
        typer.echo(f"\n[{name}]")
        typer.echo(_render_section(item))


@config_app.command("check")
def config_check(part: PartOption = EVERY_PART, config: ConfigFileOption = None) -> None:
    """Load and validate the settings; exit 2 with one line per problem if they are bad."""
    try:
        loaded = load_parts(part, config)
    except SettingsError as exc:
        print_settings_error(exc)
        raise typer.Exit(SETTINGS_EXIT_CODE) from None
    for name, item in loaded.items():
        typer.echo(f"[{name}] ok ({item.settings.environment})")


def _render_section(item: LoadedSettings[FieldwatchSettings]) -> str:
    values = masked_values(item.settings)
    width = max(len(name) for name in values)
    rendered = {name: _render_value(value) for name, value in values.items()}
    value_width = max(len(text) for text in rendered.values())
    lines = []
    for name, text in rendered.items():
        origin = item.origins[name]
        source = f"env {env_var(name)}" if origin == "env" else origin
        lines.append(f"{name:<{width}} = {text:<{value_width}}  # {source}")
    return "\n".join(lines)


def _render_value(value: object) -> str:
    return "(unset)" if value is None else json.dumps(value)


def main() -> None:
    """Entry point of the ``fieldwatch`` script."""
    try:
        app()
    except SettingsError as exc:
        # Commands of other groups that let SettingsError escape still end cleanly.
        print_settings_error(exc)
        sys.exit(SETTINGS_EXIT_CODE)
