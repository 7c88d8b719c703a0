"""``fieldwatch edge``: run the gateway, look into its buffer and quarantine, measure it.

The wiring place: settings are built here once, with ``load_settings``, and handed on.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from edge import bench
from edge.buffer import Buffer
from edge.errors import EdgeError
from edge.gateway import Gateway
from edge.hj212.errors import PacketError
from edge.hj212.frame import frame
from edge.settings import EdgeSettings
from fieldwatch.options import SETTINGS_EXIT_CODE, ConfigFileOption, print_settings_error
from fieldwatch.settings import SettingsError, load_settings

app = typer.Typer(name="edge", help="The edge gateway: store and forward.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Messages the gateway refused.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")

EDGE_ERROR_EXIT_CODE = 1


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _settings(config: Path | None) -> EdgeSettings:
    try:
        return load_settings(EdgeSettings, config)
    except SettingsError as exc:
        print_settings_error(exc)
        raise typer.Exit(SETTINGS_EXIT_CODE) from None


def _open_buffer(settings: EdgeSettings) -> Buffer:
    if not settings.buffer_path.exists():
        typer.echo(f"error: no buffer at {settings.buffer_path}", err=True)
        raise typer.Exit(EDGE_ERROR_EXIT_CODE)
    return Buffer.open(
        settings.buffer_path,
        cap_bytes=int(settings.buffer_max_bytes),
        synchronous=settings.buffer_synchronous,
    )


@app.command("run")
def run_command(config: ConfigFileOption = None) -> None:
    """Run the gateway until SIGTERM or Ctrl-C; then flush what it can and exit."""
    settings = _settings(config)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    gateway = Gateway(settings)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        gateway.stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        status = gateway.run()
    except EdgeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EDGE_ERROR_EXIT_CODE) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise typer.Exit(status)


@app.command("status")
def status_command(config: ConfigFileOption = None) -> None:
    """Buffer depth, size, oldest message, drops and quarantine size (JSON)."""
    settings = _settings(config)
    buffer = _open_buffer(settings)
    try:
        stats = buffer.stats()
    finally:
        buffer.close()
    document = {
        "buffer_path": str(settings.buffer_path),
        "depth_urgent": stats.depth_urgent,
        "depth_telemetry": stats.depth_telemetry,
        "bytes": stats.bytes,
        "cap_bytes": int(settings.buffer_max_bytes),
        "oldest_received_at_ms": stats.oldest_received_at_ms,
        "dropped_total": stats.dropped_total,
        "quarantined_total": stats.quarantined_total,
        "quarantine_not_uploaded": stats.quarantine_not_uploaded,
        "in_flight_batches": stats.in_flight_batches,
    }
    typer.echo(json.dumps(document, indent=2))


@quarantine_app.command("list")
def quarantine_list(
    config: ConfigFileOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest entries to show.")] = 50,
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text or json (payloads in hex).")
    ] = OutputFormat.text,
) -> None:
    """The newest quarantined messages: when, topic, reason, size."""
    settings = _settings(config)
    buffer = _open_buffer(settings)
    try:
        entries = buffer.quarantine(limit=limit, code=reason)
    finally:
        buffer.close()
    if output_format is OutputFormat.json:
        rows = [
            {
                "id": e.id,
                "received_at_ms": e.received_at_ms,
                "topic": e.topic,
                "device_id": e.device_id,
                "code": e.code,
                "reason": e.reason,
                "payload_hex": e.payload.hex(),
            }
            for e in entries
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    for e in entries:
        when = datetime.fromtimestamp(e.received_at_ms / 1000, UTC).isoformat(timespec="seconds")
        typer.echo(f"{e.id}\t{when}\t{e.topic}\t{e.code}\t{len(e.payload)} B\t{e.reason}")
    if not entries:
        typer.echo("quarantine is empty")


@app.command("hj212-frame")
def hj212_frame_command(
    segment: Annotated[str, typer.Argument(help="The data segment, QN=...;CP=&&...&&.")],
) -> None:
    """An HJ 212 packet (##, length, SEGMENT, CRC, CR LF) on stdout, to send to the
    listener by hand: fieldwatch edge hj212-frame '...' | nc -q 2 HOST PORT."""
    try:
        packet = frame(segment)
    except PacketError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EDGE_ERROR_EXIT_CODE) from None
    sys.stdout.buffer.write(packet)
    sys.stdout.buffer.flush()


@app.command("bench-buffer")
def bench_buffer_command(
    count: Annotated[int, typer.Option(min=100, help="Readings per round.")] = 50000,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds; the median is reported.")] = 3,
    folder: Annotated[
        Path | None, typer.Option(help="Where the scratch buffer goes (the disk measured).")
    ] = None,
    per_message: Annotated[
        int,
        typer.Option(min=1, max=256, help="Fixes per message (a device batch if more than 1)."),
    ] = 1,
) -> None:
    """Readings committed per second by the buffer, by commit group size and sync mode."""
    shape = "one a message" if per_message == 1 else f"{per_message} a device batch"
    typer.echo(f"{count} location fixes per round ({shape}), median of {rounds} rounds")
    for synchronous in ("full", "normal"):
        for group in (1, 100, 1000):
            n = count if group > 1 else min(count, 5000 * per_message)
            rate = bench.measure(n, rounds, group, synchronous, folder, per_message)
            typer.echo(
                f"  synchronous={rate.synchronous:<6} group={rate.group:<5}"
                f" {rate.per_second:>10,.0f} readings/s"
            )
