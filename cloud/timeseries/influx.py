"""InfluxDB through its v1 HTTP API (``/write``, ``/query``, ``/ping``): the only module
that talks to InfluxDB.

Debian's InfluxDB 1.6 has no /api/v2, and 1.x, 2.x and 3.x all serve these
endpoints (DESIGN.md). httpx errors and InfluxDB's answers are mapped here:
down, slow or overloaded is ``StorageUnavailableError`` (the caller answers 503 and the
gateway keeps its data); a request InfluxDB refuses as wrong is ``StorageError``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from cloud.errors import StorageError, StorageUnavailableError
from cloud.timeseries.points import StoredPoint
from cloud.timeseries.schema import RETENTION_POLICIES

WRITE_CHUNK_LINES = 5000  # InfluxDB's own advice; FIELD-NOTES measured 100k+ points/s so


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a query result."""

    name: str
    tags: Mapping[str, str]
    columns: Sequence[str]
    values: Sequence[Sequence[Any]]

    def rows(self) -> Iterator[dict[str, Any]]:
        for row in self.values:
            yield dict(zip(self.columns, row, strict=True))


def quote_identifier(name: str) -> str:
    """An InfluxQL double-quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def schema_statements(
    database: str, *, create_database: bool = True, existing: Iterable[str] = ()
) -> list[str]:
    """The InfluxQL that makes the database and the retention policies not in ``existing``."""
    name = quote_identifier(database)
    statements = [f"CREATE DATABASE {name}"] if create_database else []
    have = set(existing)
    for policy in RETENTION_POLICIES:
        if policy.name in have:
            continue
        statement = (
            f"CREATE RETENTION POLICY {quote_identifier(policy.name)} ON {name} "
            f"DURATION {policy.duration} REPLICATION 1"
        )
        statements.append(statement + " DEFAULT" if policy.default else statement)
    return statements


class InfluxStore:
    """A pooled HTTP client for one InfluxDB database. ``close()`` when done."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.database = database
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            auth=(username, password or "") if username is not None else None,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
        )
        self._schema_ready = False

    def close(self) -> None:
        self._http.close()

    def ping(self) -> bool:
        """True when InfluxDB answers ``/ping``."""
        try:
            return self._http.get("/ping").status_code == httpx.codes.NO_CONTENT
        except httpx.HTTPError:
            return False

    def ensure_schema(self) -> None:
        """Create the database and its retention policies where missing (idempotent).

        Only what is missing is created, so a deployment whose admin created them (the
        influxdb image runs provisioning/influxdb/*.iql on its first start) lets the cloud
        run as a user with privileges on its own database only. A user who may not create
        what is missing gets a StorageError saying what to create.
        """
        databases = {row["name"] for row in self._rows("SHOW DATABASES")}
        existing: set[str] = set()
        if self.database in databases:
            database = quote_identifier(self.database)
            existing = {row["name"] for row in self._rows(f"SHOW RETENTION POLICIES ON {database}")}
        for statement in schema_statements(
            self.database, create_database=self.database not in databases, existing=existing
        ):
            try:
                self._execute(statement, method="POST", database=None)
            except StorageError as exc:
                raise StorageError(
                    f"InfluxDB schema incomplete and not creatable by this user ({exc}); "
                    f"run as an admin: {statement}"
                ) from exc
        self._schema_ready = True

    def write(self, points: Sequence[StoredPoint]) -> None:
        """Write every point, or raise; nanosecond timestamps, chunks of 5,000 lines."""
        if not points:
            return
        if not self._schema_ready:
            self.ensure_schema()
        by_policy: dict[str, list[str]] = defaultdict(list)
        for point in points:
            by_policy[point.retention_policy].append(point.line)
        for policy, lines in by_policy.items():
            for start in range(0, len(lines), WRITE_CHUNK_LINES):
                body = "\n".join(lines[start : start + WRITE_CHUNK_LINES]).encode()
                self._write_chunk(policy, body)

    def _write_chunk(self, policy: str, body: bytes) -> None:
        params = {"db": self.database, "rp": policy, "precision": "ns"}
        response = self._send("POST", "/write", params=params, content=body)
        if response.status_code == httpx.codes.NO_CONTENT:
            return
        if response.status_code == httpx.codes.NOT_FOUND:
            # The database went away (a fresh InfluxDB): create it again, once.
            self.ensure_schema()
            response = self._send("POST", "/write", params=params, content=body)
            if response.status_code == httpx.codes.NO_CONTENT:
                return
        raise self._failure("write", response)

    def query(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Series]:
        """Run one read-only InfluxQL statement with bound parameters; times in epoch ns."""
        return self._execute(statement, method="GET", database=self.database, params=params)

    def _rows(self, statement: str) -> Iterator[dict[str, Any]]:
        for series in self._execute(statement, method="GET", database=None):
            yield from series.rows()

    def _execute(
        self,
        statement: str,
        *,
        method: str,
        database: str | None,
        params: Mapping[str, Any] | None = None,
    ) -> list[Series]:
        query: dict[str, str] = {"q": statement, "epoch": "ns"}
        if database is not None:
            query["db"] = database
        if params:
            query["params"] = json.dumps(dict(params))
        response = self._send(method, "/query", params=query)
        if response.status_code != httpx.codes.OK:
            raise self._failure("query", response)
        try:
            document = response.json()
            results = document["results"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"InfluxDB query answer is not readable: {exc}") from exc
        series: list[Series] = []
        for result in results:
            if "error" in result:
                raise StorageError(f"InfluxDB refused the query: {result['error']}")
            for item in result.get("series", []):
                series.append(
                    Series(
                        name=item.get("name", ""),
                        tags=item.get("tags") or {},
                        columns=item["columns"],
                        values=item.get("values") or [],
                    )
                )
        return series

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise StorageUnavailableError(f"InfluxDB did not answer in time: {exc}") from exc
        except httpx.TransportError as exc:
            raise StorageUnavailableError(f"InfluxDB is unreachable: {exc}") from exc

    @staticmethod
    def _failure(what: str, response: httpx.Response) -> Exception:
        detail = f"InfluxDB {what} answered HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code >= 500 or response.status_code == httpx.codes.TOO_MANY_REQUESTS:
            return StorageUnavailableError(detail)
        return StorageError(detail)
