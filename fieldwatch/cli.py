"""The ``fieldwatch`` command line.

Each part of the system adds its own command group here (``edge``, ``cloud``, ...). The
commands are the wiring place: they build settings with ``load_settings`` at start-up and
hand them on. A bad setting ends any command with one line per problem and exit code 2.
"""

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cloud.settings import CloudSettings
from edge.settings import EdgeSettings
from fieldwatch.settings import (
    CONFIG_ENV_VAR,
    FieldwatchSettings,
    LoadedSettings,
    SettingsError,
    env_var,
    load_settings_with_origins,
    masked_values,
)

SETTINGS_EXIT_CODE = 2

app = typer.Typer(
    name="fieldwatch",
    help="Supervision bracelets and river water quality: edge gateways and the cloud service.",
    no_args_is_help=True,
    add_completion=False,
    # Locals in a traceback could hold secrets.
    pretty_exceptions_show_locals=False,
)
config_app = typer.Typer(
    help="Show and check the settings of each deployable.", no_args_is_help=True
)
app.add_typer(config_app, name="config")

# The --config option every command that builds settings takes.
ConfigFileOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar=CONFIG_ENV_VAR,
        show_envvar=True,
        metavar="FILE",
        help="TOML file holding an edge and/or a cloud section; the environment overrides it.",
    ),
]

SETTINGS_CLASSES: dict[str, type[FieldwatchSettings]] = {
    "edge": EdgeSettings,
    "cloud": CloudSettings,
}


class Part(StrEnum):
    """Which deployable's settings a command works on."""

    edge = "edge"
    cloud = "cloud"
    all = "all"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


PartOption = Annotated[Part, typer.Option("--part", "-p", help="Deployable to work on.")]


def print_settings_error(error: SettingsError) -> None:
    """Print one line per problem on stderr."""
    for problem in error.problems:
        typer.echo(f"error: {problem}", err=True)


def load_parts(
    part: Part, config_file: Path | None
) -> dict[str, LoadedSettings[FieldwatchSettings]]:
    """Load every selected deployable's settings; all problems of all parts in one error."""
    names = list(SETTINGS_CLASSES) if part is Part.all else [part.value]
    loaded: dict[str, LoadedSettings[FieldwatchSettings]] = {}
    problems: list[str] = []
    for name in names:
        try:
            loaded[name] = load_settings_with_origins(SETTINGS_CLASSES[name], config_file)
        except SettingsError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise SettingsError(problems)
    return loaded


@config_app.command("show")
def config_show(
    part: PartOption = Part.all,
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
def config_check(part: PartOption = Part.all, config: ConfigFileOption = None) -> None:
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


def _register_parts() -> None:
    """Each part's commands. Imported here, after `app` exists, so that a part's CLI
    module may import ConfigFileOption and friends from this module."""
    from cloud.cli import app as cloud_app
    from edge.cli import app as edge_app
    from fieldwatch.bench.cli import app as bench_app
    from fieldwatch.demo import demo_command
    from fieldwatch.simulate import simulate_command

    app.command("demo")(demo_command)
    app.command("simulate")(simulate_command)
    app.add_typer(edge_app, name="edge")
    app.add_typer(cloud_app, name="cloud")
    app.add_typer(bench_app, name="bench")


_register_parts()


def main() -> None:
    """Entry point of the ``fieldwatch`` script."""
    try:
        app()
    except SettingsError as exc:
        # Commands of other groups that let SettingsError escape still end cleanly.
        print_settings_error(exc)
        sys.exit(SETTINGS_EXIT_CODE)
