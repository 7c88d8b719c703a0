"""``fieldwatch simulate``: a fleet of bracelets and river stations against a real broker.

Runs the real agent code (``firmware_py``) on simulated hardware, drives it
with a scenario file on a simulated clock, prints progress, and at the end
a summary: records made, delivered, dropped, still buffered, and what a
subscriber of its own (the witness) counted on the broker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from fieldwatch_dev.simulator.fleet import Fleet, FleetError, FleetStats, parse_broker
from fieldwatch_dev.simulator.scenario import ScenarioError, load_scenario
from fieldwatch_dev.simulator.witness import WitnessCounts, WitnessProcess
from fieldwatch_dev.simulator.world import World

USAGE_EXIT_CODE = 2


def load_credentials(path: Path) -> tuple[dict[str, str], tuple[str, str] | None]:
    """Device passwords and, optionally, a witness login, from a JSON file.

    ``{"devices": {"br-000001": "password", ...}, "witness": {"username": ..., "password": ...}}``
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        devices = {str(k): str(v) for k, v in data["devices"].items()}
        witness = data.get("witness")
        login = None if witness is None else (str(witness["username"]), str(witness["password"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FleetError(f"{path}: not a credentials file ({exc})") from exc
    return devices, login


def progress_line(stats: FleetStats, elapsed_s: int) -> str:
    """One line of progress."""
    return (
        f"t+{elapsed_s:>6d}s  connected {stats.connected}/{stats.devices}  "
        f"made {stats.created}  sent {stats.delivered} ({stats.batches} batches)  "
        f"buffered {stats.buffered}  dropped {stats.dropped}"
    )


def summary_lines(stats: FleetStats, witness: WitnessCounts | None, drained: bool) -> list[str]:
    """The summary at the end of a run."""
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.created_by_kind.items()))
    lines = [
        f"records made:      {stats.created} ({kinds})",
        f"records delivered: {stats.delivered} ({stats.sent_live} live, "
        f"{stats.sent_batched} in {stats.batches} batches)",
        f"dropped (full buffers): {stats.dropped}; still buffered: {stats.buffered}"
        + ("" if drained else " (drain timed out)"),
    ]
    if witness is not None:
        lines.append(
            f"subscriber counted: {witness.distinct()} distinct records, "
            f"{witness.duplicates()} duplicates, {len(witness.undecodable)} undecodable"
        )
    return lines


def simulate_command(
    broker: Annotated[str, typer.Option(help="mqtt://HOST:PORT")] = "mqtt://127.0.0.1:1883",
    bracelets: Annotated[int, typer.Option(min=0, help="Bracelets to run.")] = 10,
    sensors: Annotated[int, typer.Option(min=0, help="River stations to run.")] = 2,
    scenario: Annotated[
        Path | None, typer.Option(help="Scenario file (JSON); the Shanghai one by default.")
    ] = None,
    speedup: Annotated[
        float, typer.Option(min=0, help="Simulated seconds per wall second (0: flat out).")
    ] = 1.0,
    duration: Annotated[int, typer.Option(min=1, help="Simulated seconds to run.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the scenario's random draws.")] = 1,
    credentials: Annotated[
        Path | None, typer.Option(help="JSON file with device passwords (ACL'd broker).")
    ] = None,
    witness: Annotated[
        bool, typer.Option(help="Count what arrives on the broker with a subscriber of its own.")
    ] = True,
    progress_every: Annotated[
        float, typer.Option(help="Wall seconds between progress lines.")
    ] = 5.0,
    drain_timeout: Annotated[
        float, typer.Option(help="Wall seconds allowed for the final drain.")
    ] = 60.0,
) -> None:
    """Run simulated bracelets and river stations (the real agent code) against a broker."""
    try:
        host, port = parse_broker(broker)
        chosen = load_scenario(scenario)
        passwords, login = (None, None) if credentials is None else load_credentials(credentials)
        world = World(chosen, seed)
        fleet = Fleet(broker, world, bracelets, sensors, passwords)
    except (FleetError, ScenarioError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(USAGE_EXIT_CODE) from None
    counter: WitnessProcess | None = None
    counts: WitnessCounts | None = None
    if witness:
        counter = WitnessProcess(host, port, f"fieldwatch-sim-witness-{os.getpid()}", login)
    typer.echo(
        f"scenario {chosen.name}, seed {seed}: {bracelets} bracelets, {sensors} river stations, "
        f"{duration} s simulated at x{speedup:g} against {broker}"
    )
    try:
        fleet.run(
            duration,
            speedup,
            progress=lambda stats, t: typer.echo(progress_line(stats, t)),
            progress_every_s=progress_every,
        )
        typer.echo(progress_line(fleet.stats(), duration))
        typer.echo("draining: no new records, sending what waits ...")
        drained = fleet.drain(drain_timeout)
        if counter is not None:
            counts = counter.wait_for(fleet.stats().delivered)
    finally:
        fleet.close()
        if counter is not None:
            counter.stop()
    typer.echo("summary:")
    for line in summary_lines(fleet.stats(), counts, drained):
        typer.echo("  " + line)
