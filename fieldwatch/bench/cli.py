"""``fieldwatch bench``: measurements whose results are written in docs/benchmarks.md."""

from typing import Annotated

import typer

from fieldwatch.bench import codec as codec_bench

app = typer.Typer(help="Measure this machine; see docs/benchmarks.md.", no_args_is_help=True)


@app.command("codec")
def codec_command(
    count: Annotated[int, typer.Option(min=100, help="Messages per round.")] = 20000,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds; the median is reported.")] = 5,
) -> None:
    """Messages per second through the wire-contract encoder and decoders (one core)."""
    typer.echo(f"{count} messages per round, median of {rounds} rounds")
    for rate in codec_bench.measure(count, rounds):
        typer.echo(f"  {rate.name:<36} {rate.per_second:>10,.0f} msg/s")
