"""What every part's command line shares: the ``--config`` option and how a bad setting ends
a command (one line per problem on stderr, exit code 2).

A module of its own so that a part's CLI (``cloud.cli``, ``edge.cli``) can use these without
importing the root command line, which in turn finds the parts (``fieldwatch.cli``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldwatch.settings import CONFIG_ENV_VAR, SettingsError

SETTINGS_EXIT_CODE = 2

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


def print_settings_error(error: SettingsError) -> None:
    """Print one line per problem on stderr."""
    for problem in error.problems:
        typer.echo(f"error: {problem}", err=True)
