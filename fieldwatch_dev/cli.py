"""The developer tools' commands, added to ``fieldwatch`` where this package is installed:
``fieldwatch demo``, ``fieldwatch simulate`` and the ``fieldwatch bench`` group."""

from __future__ import annotations

import typer

from fieldwatch_dev.bench.cli import app as bench_app
from fieldwatch_dev.demo import demo_command
from fieldwatch_dev.simulate import simulate_command

# No name: the root adds these commands at its own level.
app = typer.Typer()
app.command("demo")(demo_command)
app.command("simulate")(simulate_command)
app.add_typer(bench_app, name="bench")
