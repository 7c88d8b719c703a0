"""What the supervision statistics count, each in one query filtered by the policies, and
the tables the page and its CSV files show (docs/console.md, "Alerts and statistics").

Weeks are the console's local weeks (Monday to Sunday in ``console_timezone``), the last
``WEEKS`` including this one; rows are grouped into them here rather than in SQL, which
has no portable way across SQLite and PostgreSQL to cut local weeks. Percentiles of the
time to acknowledge are computed here from the rows for the same reason (a district's
alerts over twelve weeks are a few thousand rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from cloud.alerts import policy as alerts_policy
from cloud.alerts.models import Alert
from cloud.alerts.service import SEVERITIES
from cloud.console.alert_views import CAUSE_LABELS, SEVERITY_LABELS
from cloud.console.i18n import N_
from cloud.console.person_views import MEASURE_LABELS, PERSON_STATUS_LABELS
from cloud.fleet import policy as fleet_policy
from cloud.fleet.models import Device, Gateway
from cloud.fleet.presence import DeviceStatus, status_from
from cloud.identity.principal import Principal
from cloud.supervision import policy as supervision_policy
from cloud.supervision.causes import CAUSES
from cloud.supervision.models import RollCall, SupervisedPerson
from cloud.supervision.policy import visible_persons
from core import devices

WEEKS = 12
Cell = str | int | float | None
Translate = Callable[[str], str]

NO_MEASURE = N_("No measure recorded")
DEVICE_STATUS_LABELS = {
    DeviceStatus.online: N_("Online"),
    DeviceStatus.offline: N_("Offline"),
    DeviceStatus.gateway_unreachable: N_("Gateway silent"),
    DeviceStatus.unknown: N_("Not heard from"),
}


def may_see_statistics(principal: Principal) -> bool:
    """Statistics count persons, their alerts and bracelets: for those who see all three."""
    return (
        supervision_policy.may_read_supervision(principal)
        and alerts_policy.may_see_alerts(principal)
        and fleet_policy.may_read_tracks(principal)
    )


# ---------------------------------------------------------------- weeks


def week_start(moment: datetime, zone: ZoneInfo) -> date:
    """The Monday of the local week a UTC moment falls in."""
    local = moment.astimezone(zone).date()
    return local - timedelta(days=local.weekday())


def last_weeks(now: datetime, zone: ZoneInfo, count: int = WEEKS) -> list[date]:
    """The Mondays of the last ``count`` local weeks, oldest first, this week last."""
    this_week = week_start(now, zone)
    return [this_week - timedelta(weeks=count - 1 - n) for n in range(count)]


def utc_start(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight starting ``day``, as an aware datetime (compared with UTC columns)."""
    return datetime.combine(day, time(0), zone)


# ---------------------------------------------------------------- the counts


def persons_by_measure(session: Session, principal: Principal) -> Counter[tuple[str | None, str]]:
    """(measure, status) -> persons."""
    rows = session.execute(
        select(SupervisedPerson.measure, SupervisedPerson.status, func.count())
        .where(visible_persons(principal))
        .group_by(SupervisedPerson.measure, SupervisedPerson.status)
    )
    return Counter({(measure, status): int(n) for measure, status, n in rows})


def alerts_by_week(
    session: Session, principal: Principal, weeks: Sequence[date], zone: ZoneInfo
) -> dict[date, Counter[str]]:
    """Week -> cause -> alerts raised that week (by when the system knew: ``raised_at``)."""
    out: dict[date, Counter[str]] = {week: Counter() for week in weeks}
    rows = session.execute(
        select(Alert.raised_at, Alert.cause).where(
            Alert.raised_at >= utc_start(weeks[0], zone), alerts_policy.visible_alerts(principal)
        )
    )
    for raised_at, cause in rows:
        week = week_start(raised_at, zone)
        if week in out:
            out[week][cause] += 1
    return out


@dataclass(frozen=True, slots=True)
class AcknowledgeTimes:
    acknowledged: int
    p50_s: float | None
    p90_s: float | None
    waiting: int  # still open, nobody has acknowledged them yet


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile of sorted ``values``, interpolated between neighbours
    (as numpy's default and PostgreSQL's ``percentile_cont``)."""
    if not values:
        return None
    position = (len(values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def acknowledge_times(
    session: Session, principal: Principal, since: datetime
) -> dict[str, AcknowledgeTimes]:
    """Severity -> how long alerts raised since ``since`` waited to be acknowledged."""
    waited: dict[str, list[float]] = {severity: [] for severity in SEVERITIES}
    waiting: Counter[str] = Counter()
    rows = session.execute(
        select(Alert.severity, Alert.status, Alert.raised_at, Alert.acknowledged_at).where(
            Alert.raised_at >= since, alerts_policy.visible_alerts(principal)
        )
    )
    for severity, status, raised_at, acknowledged_at in rows:
        if acknowledged_at is not None:
            waited.setdefault(severity, []).append((acknowledged_at - raised_at).total_seconds())
        elif status == "open":
            waiting[severity] += 1
    out = {}
    for severity, seconds in waited.items():
        seconds.sort()
        out[severity] = AcknowledgeTimes(
            len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.9), waiting[severity]
        )
    return out


def roll_calls_by_week(
    session: Session, principal: Principal, weeks: Sequence[date], zone: ZoneInfo
) -> dict[date, tuple[int, int]]:
    """Week -> (answered, missed) roll calls scheduled that week."""
    counts: dict[date, Counter[str]] = {week: Counter() for week in weeks}
    rows = session.execute(
        select(RollCall.scheduled_at, RollCall.status)
        .join(SupervisedPerson, SupervisedPerson.id == RollCall.person_id)
        .where(
            RollCall.scheduled_at >= utc_start(weeks[0], zone),
            RollCall.status.in_(("answered", "missed")),
            visible_persons(principal),
        )
    )
    for scheduled_at, status in rows:
        week = week_start(scheduled_at, zone)
        if week in counts:
            counts[week][status] += 1
    return {week: (c["answered"], c["missed"]) for week, c in counts.items()}


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    statuses: Counter[DeviceStatus]
    low_battery: int
    low_battery_pct: int


def bracelet_health(
    session: Session, principal: Principal, now: datetime, silent_s: int, low_battery_pct: int
) -> DeviceHealth:
    """Bracelets by status (``cloud.fleet.presence``) and those with a low battery."""
    cutoff = now - timedelta(seconds=silent_s)
    alive = and_(
        Gateway.id.is_not(None),
        or_(Gateway.last_heartbeat_at >= cutoff, Gateway.last_batch_at >= cutoff),
    )
    low = func.sum(case((Device.battery_pct <= low_battery_pct, 1), else_=0))
    rows = session.execute(
        select(alive.label("alive"), Device.presence, func.count(), low)
        .select_from(Device)
        .outerjoin(Gateway, Gateway.id == Device.gateway_id)
        .where(fleet_policy.visible_devices(principal), Device.kind == devices.BRACELET)
        .group_by(alive, Device.presence)
    )
    statuses: Counter[DeviceStatus] = Counter()
    low_total = 0
    for is_alive, presence, count, low_count in rows:
        statuses[status_from(presence, bool(is_alive))] += int(count)
        low_total += int(low_count or 0)
    return DeviceHealth(statuses, low_total, low_battery_pct)


# ---------------------------------------------------------------- tables and charts


@dataclass(frozen=True, slots=True)
class Table:
    """A statistic as rows: the table under its chart, and its CSV file. The first column
    names the row (the chart's categories); ``series`` are the columns the chart draws."""

    columns: list[str]  # translated
    rows: list[list[Cell]]
    series: list[int]


@dataclass(frozen=True, slots=True)
class Statistic:
    name: str  # in the address of its CSV file
    title: str  # a text to translate
    note: str  # ditto: what it counts, and how
    chart: str  # bar | stacked | line
    unit: str  # translated: the values' unit on the chart's axis
    table: Table

    def chart_data(self) -> dict[str, object]:
        table = self.table
        return {
            "name": self.name,
            "kind": self.chart,
            "unit": self.unit,
            "categories": [row[0] for row in table.rows],
            "series": [
                {"name": table.columns[i], "data": [row[i] for row in table.rows]}
                for i in table.series
            ],
        }


def persons_table(counts: Counter[tuple[str | None, str]], t: Translate) -> Table:
    measures: list[str | None] = [m for m in MEASURE_LABELS if any(k[0] == m for k in counts)]
    if any(k[0] not in MEASURE_LABELS for k in counts):
        measures.append(None)
    statuses = [s for s in PERSON_STATUS_LABELS if any(k[1] == s for k in counts)]
    statuses += sorted({k[1] for k in counts} - set(statuses))
    columns = [t(N_("Measure"))] + [t(PERSON_STATUS_LABELS.get(s, s)) for s in statuses]
    rows: list[list[Cell]] = []
    for measure in measures:
        label = t(MEASURE_LABELS[measure]) if measure in MEASURE_LABELS else t(NO_MEASURE)
        in_row = [
            sum(n for (m, s), n in counts.items() if s == status and _same(m, measure))
            for status in statuses
        ]
        rows.append([label, *in_row])
    columns.append(t(N_("All")))
    for row in rows:
        row.append(sum(int(v) for v in row[1:] if isinstance(v, int)))
    return Table(columns, rows, list(range(1, len(statuses) + 1)))


def _same(measure: str | None, row: str | None) -> bool:
    return measure == row if row is not None else measure not in MEASURE_LABELS


def alerts_table(by_week: Mapping[date, Counter[str]], t: Translate) -> Table:
    seen = {cause for counts in by_week.values() for cause in counts}
    causes = [c for c in CAUSES if c in seen] + sorted(seen - set(CAUSES))
    columns = [t(N_("Week starting"))] + [t(CAUSE_LABELS.get(c, c)) for c in causes]
    columns.append(t(N_("All")))
    rows: list[list[Cell]] = []
    for week, counts in sorted(by_week.items()):
        values = [counts[c] for c in causes]
        rows.append([week.isoformat(), *values, sum(values)])
    return Table(columns, rows, list(range(1, len(causes) + 1)))


def acknowledge_table(times: Mapping[str, AcknowledgeTimes], t: Translate) -> Table:
    columns = [
        t(N_("Severity")),
        t(N_("Acknowledged")),
        t(N_("Median (p50), minutes")),
        t(N_("p90, minutes")),
        t(N_("Still waiting")),
    ]
    rows: list[list[Cell]] = []
    for severity in [*SEVERITIES, *sorted(set(times) - set(SEVERITIES))]:
        shown = times.get(severity, AcknowledgeTimes(0, None, None, 0))
        rows.append(
            [
                t(SEVERITY_LABELS.get(severity, severity)),
                shown.acknowledged,
                _minutes(shown.p50_s),
                _minutes(shown.p90_s),
                shown.waiting,
            ]
        )
    return Table(columns, rows, [2, 3])


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def roll_calls_table(by_week: Mapping[date, tuple[int, int]], t: Translate) -> Table:
    columns = [
        t(N_("Week starting")),
        t(N_("Answered in time")),
        t(N_("Not answered")),
        t(N_("Compliance, percent")),
    ]
    rows: list[list[Cell]] = []
    for week, (answered, missed) in sorted(by_week.items()):
        asked = answered + missed
        rows.append(
            [
                week.isoformat(),
                answered,
                missed,
                round(100 * answered / asked, 1) if asked else None,
            ]
        )
    return Table(columns, rows, [3])


def devices_table(health: DeviceHealth, t: Translate) -> Table:
    rows: list[list[Cell]] = [
        [t(label), health.statuses[status]] for status, label in DEVICE_STATUS_LABELS.items()
    ]
    rows.append(
        [
            t(N_("Battery at or below %(pct)s %%")) % {"pct": health.low_battery_pct},
            health.low_battery,
        ]
    )
    return Table([t(N_("Bracelets")), t(N_("Count"))], rows, [1])


def csv_rows(table: Table) -> Iterable[list[str]]:
    """The table as CSV rows, header first: numbers as written, nothing for no value, and
    a text that a spreadsheet would read as a formula made plain text."""
    yield [_plain(c) for c in table.columns]
    for row in table.rows:
        yield ["" if v is None else _plain(v) if isinstance(v, str) else str(v) for v in row]


def _plain(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
