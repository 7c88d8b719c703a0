"""``fieldwatch bench``: measurements whose results are written in docs/benchmarks.md."""

import dataclasses
import json
import statistics
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from fieldwatch_dev.bench import alerts as alerts_bench
from fieldwatch_dev.bench import backlog as backlog_bench
from fieldwatch_dev.bench import chaos as chaos_bench
from fieldwatch_dev.bench import codec as codec_bench
from fieldwatch_dev.bench import console as console_bench
from fieldwatch_dev.bench import ingest as ingest_bench
from fieldwatch_dev.bench import loadgen
from fieldwatch_dev.bench import pipeline as pipeline_bench
from fieldwatch_dev.bench import rivers as rivers_bench
from fieldwatch_dev.bench import rivers_classify as classify_bench
from fieldwatch_dev.bench import rules as rules_bench
from fieldwatch_dev.bench import rules_pipeline as rules_pipeline_bench
from fieldwatch_dev.bench.endpoints import BrokerEndpoint, EndpointError, InfluxEndpoint
from fieldwatch_dev.local import MosquittoServer

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


@app.command("rules")
def rules_command(
    part: Annotated[
        rules_bench.Part,
        typer.Option(
            help="What to measure: zones (the zone checks alone) or pipeline (the whole "
            "pipeline with the rules off and on)."
        ),
    ] = "zones",
    persons: Annotated[int, typer.Option(min=1, help="Supervised persons, 5 zones each.")] = 300,
    fixes: Annotated[int, typer.Option(min=1, help="Fixes per round.")] = 400_000,
    batch: Annotated[
        int, typer.Option(min=1, help="Fixes per batch, as ingest hands them.")
    ] = 2000,
    chunk: Annotated[int, typer.Option(min=1, help="Fixes per big chunk.")] = 100_000,
    rounds: Annotated[
        int | None,
        typer.Option(min=1, help="Rounds; the median is reported (zones 5, pipeline 3)."),
    ] = None,
    core_fixes: Annotated[
        int, typer.Option(min=1, help="Fixes through core's pure-Python check per round.")
    ] = 20_000,
    baseline_fixes: Annotated[
        int, typer.Option(min=1, help="Fixes through the plain-shapely baseline per round.")
    ] = 40_000,
    county_vertices: Annotated[int, typer.Option(min=3, help="Vertices of a county.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed of the zones and fixes.")] = 1,
    pin: Annotated[bool, typer.Option(help="Pin the timings to one CPU (Linux).")] = False,
    quick: Annotated[
        bool, typer.Option(help="pipeline: 4 persons, one round of two 4 s steps (about 90 s).")
    ] = False,
    steps: Annotated[
        str | None,
        typer.Option(
            help="pipeline: offered loads, readings/s, comma-separated; the first "
            "is the reference step, then the climb."
        ),
    ] = None,
    step_seconds: Annotated[
        float | None, typer.Option(min=1, help="pipeline: seconds per step.")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON to this file.")
    ] = None,
) -> None:
    """Supervision's rules: fixes/s through the zone checks, cloud and core (one core), or
    the whole pipeline's sustained rate with the rules off and on, in one run.

    One part a run (--part); the JSON report holds it under its name."""
    options = rules_bench.ZoneCheckOptions(
        persons=persons,
        fixes=fixes,
        batch=batch,
        chunk=chunk,
        rounds=rounds or 5,
        core_fixes=core_fixes,
        baseline_fixes=baseline_fixes,
        county_vertices=county_vertices,
        seed=seed,
        pin_cpu=pin,
    )
    results: dict[str, object] = {}
    if part == "zones":
        report = rules_bench.zone_checks(options, say=typer.echo)
        for line in rules_bench.summary_lines(report):
            typer.echo(line)
        results["zones"] = report.to_json()
    ran = True
    if part == "pipeline":
        base = (
            rules_pipeline_bench.RulesPipelineOptions.quick()
            if quick
            else rules_pipeline_bench.RulesPipelineOptions.full()
        )
        pipeline_options = dataclasses.replace(
            base,
            steps=_rates(steps) or base.steps,
            step_seconds=step_seconds or base.step_seconds,
            rounds=rounds or base.rounds,
            seed=seed,
        )
        with tempfile.TemporaryDirectory(prefix="fieldwatch-rules-") as folder:
            pipeline = rules_pipeline_bench.run_rules_pipeline(
                pipeline_options, Path(folder), say=typer.echo
            )
        for line in rules_pipeline_bench.summary_lines(pipeline):
            typer.echo(line)
        results["pipeline"] = pipeline.to_json()
        ran = pipeline.rules_ran
    if json_file is not None:
        json_file.write_text(json.dumps(results, indent=2) + "\n")
    if not ran:
        raise typer.Exit(1)


@app.command("ingest")
def ingest_command(
    records_per_message: Annotated[
        str, typer.Option(help="Readings per message, comma-separated: one row each.")
    ] = "1,100",
    readings: Annotated[
        int, typer.Option(min=100, help="Readings per request (20 devices share them).")
    ] = 5000,
    requests: Annotated[int, typer.Option(min=1, help="Requests per round.")] = 20,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds; the median is reported.")] = 3,
    database_url: Annotated[
        str | None, typer.Option(help="Relational store (default: SQLite in a temporary folder).")
    ] = None,
    profile: Annotated[
        Path | None, typer.Option(help="Write a cProfile of the ingest to this file and print it.")
    ] = None,
) -> None:
    """Readings per second through the cloud's ingest on one thread (no HTTP, no gateway)."""
    for size in _rates(records_per_message):
        per_message = int(size)
        messages = max(1, readings // (20 * per_message))
        shape = ingest_bench.IngestShape(20, messages, per_message)
        with tempfile.TemporaryDirectory(prefix="fieldwatch-ingest-") as folder:
            rate = ingest_bench.measure_ingest(
                Path(folder),
                shape,
                requests=requests,
                rounds=rounds,
                database_url=database_url,
                profile_to=profile,
                say=typer.echo,
            )
        typer.echo(rate.line())


@app.command("chaos")
def chaos_command(
    duration: Annotated[
        float, typer.Option(min=10, help="Wall seconds the fleet publishes under faults.")
    ] = 600.0,
    seed: Annotated[int, typer.Option(help="Seed of the fault schedule and the scenario.")] = 1,
    bracelets: Annotated[int, typer.Option(min=1, help="Simulated bracelets.")] = 60,
    sensors: Annotated[int, typer.Option(min=0, help="Simulated river stations.")] = 10,
    speedup: Annotated[
        float, typer.Option(min=1, help="Simulated seconds per wall second.")
    ] = 10.0,
    max_outage: Annotated[float, typer.Option(min=1, help="Longest outage, seconds.")] = 12.0,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the result as JSON to this file.")
    ] = None,
) -> None:
    """Break gateway, cloud, InfluxDB, broker and uplink at random; account for every record."""
    options = chaos_bench.ChaosOptions(
        duration_s=duration,
        seed=seed,
        bracelets=bracelets,
        sensors=sensors,
        speedup=speedup,
        max_outage_s=max_outage,
    )
    with tempfile.TemporaryDirectory(prefix="fieldwatch-chaos-") as folder:
        result = chaos_bench.run_chaos(options, Path(folder), say=typer.echo)
    for line in result.summary_lines():
        typer.echo(line)
    if json_file is not None:
        json_file.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    if not result.ok:
        raise typer.Exit(1)


@app.command("alerts")
def alerts_command(
    quick: Annotated[
        bool, typer.Option(help="16 bracelets and a light background load (200 readings/s).")
    ] = False,
    bracelets: Annotated[
        int | None, typer.Option(min=16, help="Simulated bracelets (default 40).")
    ] = None,
    background_rate: Annotated[
        float | None,
        typer.Option(min=1, help="Background readings/s, one a message (default 3000)."),
    ] = None,
    seconds: Annotated[
        int | None, typer.Option(min=270, help="Seconds the fleet runs (default 285).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the world (and the faults).")] = None,
    absent_after: Annotated[
        int | None,
        typer.Option(
            min=60, help="The cloud's absent_after_s (default 90: over a still fix's 60)."
        ),
    ] = None,
    chaos: Annotated[
        bool, typer.Option(help="The chaos run's faults meanwhile (no background load).")
    ] = False,
    max_outage: Annotated[
        float | None, typer.Option(min=1, help="--chaos: longest outage, seconds (default 12).")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the scorecard as JSON to this file.")
    ] = None,
    keep: Annotated[
        Path | None,
        typer.Option(help="Run in this new folder and keep it (logs, the cloud's database)."),
    ] = None,
) -> None:
    """Scripted incidents through the pipeline, each alert scored against the world's truth."""
    options = alerts_bench.quick_or_full(
        quick,
        bracelets=bracelets,
        background_rate=background_rate,
        seconds=seconds,
        seed=seed,
        absent_after_s=absent_after,
        chaos=chaos,
        max_outage_s=max_outage,
    )
    if keep is not None:
        keep.mkdir(parents=True)
        report = alerts_bench.run_alerts(options, keep.resolve(), say=typer.echo)
    else:
        with tempfile.TemporaryDirectory(prefix="fieldwatch-alerts-") as folder:
            report = alerts_bench.run_alerts(options, Path(folder), say=typer.echo)
    for line in alerts_bench.summary_lines(report):
        typer.echo(line)
    if json_file is not None:
        json_file.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    if not report.passed:
        raise typer.Exit(1)


@app.command("pipeline")
def pipeline_command(
    quick: Annotated[
        bool, typer.Option(help="Two short steps and a short peer: under 60 s.")
    ] = False,
    steps: Annotated[
        str | None, typer.Option(help="Offered loads, readings/s, comma-separated.")
    ] = None,
    peer_steps: Annotated[
        str | None, typer.Option(help="Offered loads for the peer, comma-separated.")
    ] = None,
    step_seconds: Annotated[float | None, typer.Option(min=1, help="Seconds per step.")] = None,
    records_per_message: Annotated[
        int,
        typer.Option(min=1, max=256, help="Readings per MQTT message (a contract batch if > 1)."),
    ] = 100,
    devices: Annotated[int, typer.Option(min=1, help="Publishing devices.")] = 20,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file.")
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(
            help="Use this broker, mqtt://[user:password@]host:port, instead of starting one."
        ),
    ] = None,
    influx_url: Annotated[
        str | None,
        typer.Option(
            help="Use this InfluxDB, http://host:port, instead of starting one; credentials "
            "from FIELDWATCH_INFLUX_USERNAME/_PASSWORD or the URL."
        ),
    ] = None,
    influx_database: Annotated[
        str, typer.Option(help="The cloud's database on the --influx-url InfluxDB.")
    ] = "fieldwatch",
) -> None:
    """Offered vs stored readings, loss and latency per step, beside the ceilings and a peer."""
    base = (
        pipeline_bench.PipelineOptions.quick() if quick else pipeline_bench.PipelineOptions.full()
    )
    try:
        broker = None if mqtt_url is None else BrokerEndpoint.parse(mqtt_url)
        influx = None if influx_url is None else InfluxEndpoint.parse(influx_url, influx_database)
    except EndpointError as exc:
        raise typer.BadParameter(str(exc)) from None
    options = dataclasses.replace(
        base,
        steps=_rates(steps) or base.steps,
        peer_steps=_rates(peer_steps) or base.peer_steps,
        step_seconds=step_seconds or base.step_seconds,
        records_per_message=records_per_message,
        devices=devices,
        broker=broker,
        influx=influx,
    )
    with tempfile.TemporaryDirectory(prefix="fieldwatch-bench-") as folder:
        report = pipeline_bench.run_pipeline(options, Path(folder), say=typer.echo)
    for line in pipeline_bench.summary_lines(report):
        typer.echo(line)
    if json_file is not None:
        json_file.write_text(json.dumps(report.to_json(), indent=2) + "\n")


def _rates(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"not a list of rates: {text!r}") from None


@app.command("console")
def console_command(
    quick: Annotated[
        bool, typer.Option(help="Few requests, 3 streams, one short latency phase: < 60 s.")
    ] = False,
    requests: Annotated[
        int | None, typer.Option(min=1, help="Timed requests per page (default 50).")
    ] = None,
    warmup: Annotated[
        int | None, typer.Option(min=0, help="Warm-up requests per page (default 5).")
    ] = None,
    bracelets: Annotated[
        int | None, typer.Option(min=3, help="Registered bracelets (default 300).")
    ] = None,
    streams: Annotated[
        int | None, typer.Option(min=1, help="Open event streams, like open maps (default 10).")
    ] = None,
    background_rate: Annotated[
        float | None,
        typer.Option(min=1, help="Background load, readings/s, one per message (default 2000)."),
    ] = None,
    latency_seconds: Annotated[
        float | None,
        typer.Option(min=1, help="Seconds the moving bracelet publishes, per phase (default 60)."),
    ] = None,
    batch_age: Annotated[
        str | None,
        typer.Option(
            help="The gateway's forward_batch_max_age_s, one latency phase each, "
            "comma-separated (default 0.25,2: the gateway's default, and its old one)."
        ),
    ] = None,
    history_bracelets: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Bracelets given a day of fixes written straight to InfluxDB before the "
            "pages (default: all but the two whose day goes through the ingest API).",
        ),
    ] = None,
    no_history: Annotated[
        bool,
        typer.Option("--no-history", help="No bracelet's day written straight to InfluxDB."),
    ] = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file.")
    ] = None,
) -> None:
    """Console pages' server time and size, publish -> marker latency, the cloud's memory.

    Every bracelet has a day of fixes before the pages (with --quick an hour)."""
    options = console_bench.quick_or_full(
        quick,
        requests=requests,
        warmup=warmup,
        bracelets=bracelets,
        streams=streams,
        background_rate=background_rate,
        latency_seconds=latency_seconds,
        batch_ages=_rates(batch_age) or None,
        history_bracelets=0 if no_history else history_bracelets,
    )
    with tempfile.TemporaryDirectory(prefix="fieldwatch-console-") as folder:
        report = console_bench.run_console(options, Path(folder), say=typer.echo)
    for line in console_bench.summary_lines(report):
        typer.echo(line)
    if json_file is not None:
        json_file.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    if report.unseen:
        raise typer.Exit(1)


@app.command("loadgen")
def loadgen_command(
    rate: Annotated[float, typer.Option(min=1, help="Offered readings/s.")] = 6000.0,
    records_per_message: Annotated[
        int, typer.Option(min=1, max=256, help="Readings per MQTT message.")
    ] = 1,
    seconds: Annotated[float, typer.Option(min=1, help="Seconds per round.")] = 10.0,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds; the median is reported.")] = 3,
    devices: Annotated[int, typer.Option(min=1, help="Publishing devices.")] = 20,
    client: Annotated[
        loadgen.Client,
        typer.Option(help="The devices' MQTT side: raw (the default) or paho (for comparison)."),
    ] = "raw",
) -> None:
    """The load generator's own CPU per 10,000 messages, publishing to a private broker."""
    spec = loadgen.LoadSpec(
        "",
        0,
        pipeline_bench.step_devices(devices),
        1,
        rate,
        records_per_message,
        seconds,
        client=client,
    )
    with (
        tempfile.TemporaryDirectory(prefix="fieldwatch-loadgen-") as folder,
        MosquittoServer(Path(folder) / "mosquitto", persistence=False) as broker,
    ):
        costs = loadgen.generator_cost(broker.host, broker.port, spec, rounds)
    for cost in costs:
        typer.echo(
            f"  {cost.messages:,} messages, offered {cost.offered_per_s:,.0f} readings/s: "
            f"{cost.cpu_s:.2f} CPU s, {cost.cpu_s_per_10k_messages:.2f} CPU s per 10,000 "
            f"messages, {cost.core_share:.0%} of a core"
        )
    per_10k = statistics.median(c.cpu_s_per_10k_messages for c in costs)
    share = statistics.median(c.core_share for c in costs)
    typer.echo(
        f"{client}, median of {rounds}: {per_10k:.2f} CPU s per 10,000 messages "
        f"({records_per_message} readings each), {share:.0%} of a core at {rate:,.0f} readings/s"
    )


@app.command("rivers")
def rivers_command(
    part: Annotated[
        rivers_bench.Part,
        typer.Option(
            help="What to measure: hj212 (the gateway's HJ 212 listener), classify (the "
            "classes of a city's sites now)."
        ),
    ] = "hj212",
    quick: Annotated[
        bool, typer.Option(help="4 loggers, 8 stations, 2,000 packets, one round (about 20 s).")
    ] = False,
    loggers: Annotated[
        int | None, typer.Option(min=1, help="Concurrent logger connections.")
    ] = None,
    stations: Annotated[int | None, typer.Option(min=1, help="River stations (MNs).")] = None,
    packets: Annotated[int | None, typer.Option(min=1, help="Packets per round.")] = None,
    rounds: Annotated[
        int | None, typer.Option(min=1, help="Rounds; the median is reported.")
    ] = None,
    window: Annotated[
        int | None, typer.Option(min=1, help="Packets a logger may have unanswered.")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON to this file.")
    ] = None,
    sites: Annotated[int, typer.Option(min=1, help="classify: sites, one station each.")] = 48_000,
    services: Annotated[
        bool, typer.Option(help="classify: also read from a private PostgreSQL and InfluxDB.")
    ] = True,
) -> None:
    """Rivers: HJ 212 packets/s the gateway's listener takes into its buffer, none lost
    (the real `fieldwatch edge run` on a private Mosquitto; loggers on TCP); or the class
    of every site now, for a city's 48,000 sites (``--part classify``)."""
    if part == "classify":
        found = classify_bench.run_classify(
            classify_bench.ClassifyOptions(sites=sites, rounds=rounds or 5, influx=services),
            typer.echo,
        )
        typer.echo(classify_bench.format_report(found))
        if json_file is not None:
            json_file.write_text(json.dumps({part: found.as_dict()}, indent=2) + "\n")
        if not found.agree or found.postgres_agree is False:
            raise typer.Exit(1)
        return
    base = rivers_bench.Hj212Options.quick() if quick else rivers_bench.Hj212Options.full()
    options = dataclasses.replace(
        base,
        loggers=loggers or base.loggers,
        stations=stations or base.stations,
        packets=packets or base.packets,
        rounds=rounds or base.rounds,
        window=window or base.window,
    )
    with tempfile.TemporaryDirectory(prefix="fieldwatch-rivers-") as folder:
        report = rivers_bench.run_hj212(options, Path(folder), say=typer.echo)
    for line in rivers_bench.summary_lines(report):
        typer.echo(line)
    if json_file is not None:
        json_file.write_text(json.dumps({part: report.to_json()}, indent=2) + "\n")
    if report.lost:
        raise typer.Exit(1)


@app.command("backlog")
def backlog_command(
    readings: Annotated[int, typer.Option(min=1000, help="Readings in the backlog.")] = 1_000_000,
    records_per_message: Annotated[
        str, typer.Option(help="Readings per message, comma-separated: one row each.")
    ] = "1,100",
) -> None:
    """The gateway's disk and memory per buffered reading, with a backlog of READINGS."""
    for size in _rates(records_per_message):
        with tempfile.TemporaryDirectory(prefix="fieldwatch-backlog-") as folder:
            cost = backlog_bench.measure_backlog(Path(folder), readings, int(size))
        typer.echo(cost.line())
