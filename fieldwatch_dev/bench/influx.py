"""What is stored, read back from InfluxDB (v1 ``/query``), independent of the cloud's code.

Loss is counted here, per device and boot, from the ``seq`` field of the stored points
(docs/storage.md): never from log lines or the pipeline's own counters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from fieldwatch_dev.bench.endpoints import InfluxEndpoint

DATABASE = "fieldwatch"
# Every record kind, each in its retention policy (docs/storage.md).
RECORD_MEASUREMENTS = (
    ("evidence", "location"),
    ("evidence", "event"),
    ("evidence", "water"),
    ("evidence", "ack"),
    ("device_health", "health"),
)


class InfluxQueryError(RuntimeError):
    """InfluxDB could not be asked, or refused the query."""


@dataclass(frozen=True)
class SeqCount:
    """What one (device, boot) has in storage."""

    count: int
    min_seq: int
    max_seq: int


class InfluxReader:
    """Read-only InfluxQL against one database; ``close()`` when done."""

    def __init__(self, influx: InfluxEndpoint, timeout_s: float = 30.0) -> None:
        self.database = influx.database
        self._http = httpx.Client(
            base_url=influx.url.rstrip("/"), auth=influx.auth, timeout=timeout_s
        )

    def close(self) -> None:
        self._http.close()

    def query(
        self, statement: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Series of the first statement's result: ``{"name", "tags", "columns", "values"}``."""
        query = {"q": statement, "db": self.database, "epoch": "ns"}
        if params:
            query["params"] = json.dumps(dict(params))
        try:
            response = self._http.get("/query", params=query)
        except httpx.HTTPError as exc:
            raise InfluxQueryError(f"InfluxDB unreachable: {exc}") from exc
        if response.status_code != httpx.codes.OK:
            raise InfluxQueryError(f"InfluxDB answered {response.status_code}: {response.text}")
        result = response.json()["results"][0]
        if "error" in result:
            if "database not found" in result["error"]:
                return []
            raise InfluxQueryError(result["error"])
        series: list[dict[str, Any]] = result.get("series", [])
        return series

    def seq_counts(
        self, boot: int, since_ns: int = 0, measurement: str = "location"
    ) -> dict[str, SeqCount]:
        """count(seq), min(seq), max(seq) per device of one boot id, one query."""
        statement = (
            f'SELECT count("seq"), min("seq"), max("seq") FROM "evidence"."{measurement}" '
            f"WHERE boot = {int(boot)} AND time >= {int(since_ns)} GROUP BY device_id"
        )
        counts: dict[str, SeqCount] = {}
        for item in self.query(statement):
            row = item["values"][0]
            counts[item["tags"]["device_id"]] = SeqCount(int(row[1]), int(row[2]), int(row[3]))
        return counts

    def stored_total(self, boot: int, since_ns: int = 0) -> int:
        """How many location points of this boot id are stored (all devices)."""
        statement = (
            f'SELECT count("seq") FROM "evidence"."location" '
            f"WHERE boot = {int(boot)} AND time >= {int(since_ns)}"
        )
        series = self.query(statement)
        return int(series[0]["values"][0][1]) if series else 0

    def seqs_since(self, device_id: str, boot: int, since_ns: int) -> list[int]:
        """The seq of every location point of (device, boot) at or after ``since_ns``."""
        statement = (
            'SELECT "seq" FROM "evidence"."location" '
            f"WHERE device_id = $device AND boot = {int(boot)} AND time >= {int(since_ns)}"
        )
        values: list[int] = []
        for item in self.query(statement, {"device": device_id}):
            values.extend(int(row[1]) for row in item["values"])
        return values

    def records(self, devices: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
        """Every stored (boot, seq) of each device, over every record kind, duplicates kept."""
        found: dict[str, list[tuple[int, int]]] = {}
        for device_id in devices:
            pairs: list[tuple[int, int]] = []
            for policy, measurement in RECORD_MEASUREMENTS:
                statement = (
                    f'SELECT "boot", "seq" FROM "{policy}"."{measurement}" '
                    "WHERE device_id = $device"
                )
                for item in self.query(statement, {"device": device_id}):
                    pairs.extend((int(row[1]), int(row[2])) for row in item["values"])
            found[device_id] = pairs
        return found
