"""The rivers' time-driven checks, run by the scheduler on one replica at a time.

- **class_worse**: a site with a target class whose newest ``class_worse_samples``
  classed samples (and every one between) are worse than its target. The alert names
  the class, the deciding parameter or parameters with their values and the target's
  bound, and the values left out as suspect; it ends when a classed sample meets the
  target again.
- **station_silent**: no record from any station of a site for ``silent_after_s``.
- **the rules people set** (``WaterRule``, on a site or on every site of a river):
  ``above_limit`` / ``below_limit`` (a parameter's trusted values beyond a threshold
  for a duration), ``class_for_days`` (each of the last N whole local days classed
  worse than a class, on the daily means of trusted values), ``silent_for`` (no sample
  for a duration). One alert per site and rule (``site:<id>:rule:<rule id>``).

Each check is idempotent: run twice it raises nothing the second time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alerts import service as alerts
from cloud.fleet.models import Device
from cloud.rivers import assess, service
from cloud.rivers.models import RiverSite, SiteCondition, WaterRule
from cloud.rivers.queries import Query, load_samples
from core import contract as c
from core import waterclass

log = logging.getLogger(__name__)

RIVER_SEVERITIES = {"class_worse": "major", "station_silent": "minor"}


@dataclass(frozen=True)
class RiverCheckSettings:
    every_s: int = 60  # how often the rivers' checks run (the scheduler ticks more often)
    window_s: int = 12 * 3600  # the samples judged each time (stuck and spikes need hours)
    class_worse_samples: int = 3  # classed samples in a row worse than the target
    silent_after_s: int = 3 * 3600


@dataclass
class RiverReport:
    sites: int = 0
    samples: int = 0
    raised: int = 0
    ended: int = 0


def site_key(site_id: str, cause: str) -> str:
    return f"site:{site_id}:{cause}"


class RiverChecks:
    def __init__(
        self,
        session: Session,
        now: datetime,
        query: Query,
        settings: RiverCheckSettings,
        severities: Mapping[str, str] | None = None,
        zone: ZoneInfo | None = None,
    ) -> None:
        self._session = session
        self._tz = zone or ZoneInfo("UTC")  # where a day begins
        self._now = now
        self._query = query
        self._settings = settings
        self._severities = {**RIVER_SEVERITIES, **(severities or {})}
        self.report = RiverReport()

    def run_all(self) -> RiverReport:
        stations: dict[str, list[Device]] = {}
        for device in self._session.scalars(
            select(Device).where(Device.site_id.is_not(None)).order_by(Device.id)
        ):
            stations.setdefault(str(device.site_id), []).append(device)
        sites = self._session.scalars(
            select(RiverSite).where(RiverSite.id.in_(list(stations))).order_by(RiverSite.id)
        ).all()
        for site in sites:
            self.report.sites += 1
            devices = stations[site.id]
            self.silence(site, devices)
            rules = service.rules_of_site(self._session, site)
            window = max([self._settings.window_s, *(_needs_s(r) for r in rules)])
            start = self._now - timedelta(seconds=window)
            samples = self.samples([d.id for d in devices], start, self._now)
            self.report.samples += len(samples)
            assessed = assess.assess(samples, site.waterbody) if samples else []
            self.condition(site, assessed, len(samples))
            if site.target_class is not None and assessed:
                self.class_against_target(site, assessed)
            for rule in rules:
                self.rule(site, rule, assessed, devices)
        return self.report

    # --- the rules people set ---------------------------------------------------------

    def rule(
        self,
        site: RiverSite,
        rule: WaterRule,
        assessed: Sequence[assess.Assessed],
        devices: Sequence[Device],
    ) -> None:
        key = f"{site_key(site.id, 'rule')}:{rule.id}"
        found: _Finding | None
        if rule.kind in ("above", "below"):
            found = _level_rule(rule, assessed)
        elif rule.kind == "class_worse":
            found = _days_rule(rule, assessed, site.waterbody, self._tz, self._now)
        else:
            found = _silent_rule(rule, devices, self._now)
        if found is None:
            return
        if not found.bad:
            if alerts.end_cause(self._session, key, found.at, self._now, found.why):
                self.report.ended += 1
            return
        if alerts.open_alert(self._session, key) is not None:
            return
        explanation = {
            "rule": {
                "id": rule.id,
                "cause": RULE_CAUSES[rule.kind],
                "kind": rule.kind,
                "on": f"site {site.id}" if rule.site_id else f"river {rule.river_id}",
                "parameter": rule.parameter,
                "threshold": rule.threshold,
                "duration_s": rule.duration_s,
                "days": rule.days,
                "class_limit": waterclass.CLASS_NAMES.get(rule.class_limit or 0),
                "set_by": rule.created_by,
                "note": rule.note,
            },
            "site": site.id,
            **found.evidence,
            "decision": found.why,
        }
        _alert, new = alerts.raise_alert(
            self._session,
            alerts.AlertDraft(
                subject_key=key,
                cause=RULE_CAUSES[rule.kind],
                severity=rule.severity,
                summary=f"site {site.name}: {found.summary}",
                happened_at=found.at,
                explanation=explanation,
                site_id=site.id,
            ),
            self._now,
        )
        if new:
            self.report.raised += 1

    def condition(self, site: RiverSite, assessed: Sequence[assess.Assessed], count: int) -> None:
        """Keep the site's newest classed sample (what the map and the lists show)."""
        row = self._session.get(SiteCondition, site.id)
        if row is None:
            row = SiteCondition(site_id=site.id)
            self._session.add(row)
        newest = assess.latest_classed(assessed) or (assessed[-1] if assessed else None)
        row.assessed_at = self._now
        row.samples = count
        row.sample_ts = newest.sample.ts if newest is not None else None
        row.device_id = newest.sample.device_id if newest is not None else None
        row.water_class = newest.cls if newest is not None else None
        row.deciding_json = json.dumps(
            [c.WATER_PARAMETERS[p][0] for p in (newest.deciding if newest else ())]
        )
        row.suspect_json = json.dumps(
            {
                c.WATER_PARAMETERS[p][0]: list(r)
                for p, r in (newest.suspect if newest else {}).items()
            }
        )

    # --- silence ----------------------------------------------------------------------

    def silence(self, site: RiverSite, devices: Sequence[Device]) -> None:
        key = site_key(site.id, "station_silent")
        since, newest = _last_heard(devices)
        limit = self._settings.silent_after_s
        if (self._now - since).total_seconds() < limit:
            if alerts.end_cause(self._session, key, since, self._now, "samples arrive again"):
                self.report.ended += 1
            return
        if alerts.open_alert(self._session, key) is not None:
            return
        _alert, new = alerts.raise_alert(
            self._session,
            alerts.AlertDraft(
                subject_key=key,
                cause="station_silent",
                severity=self._severities["station_silent"],
                summary=f"no sample from site {site.name} for {int(limit // 3600)} h or more",
                happened_at=since + timedelta(seconds=limit),
                explanation={
                    "rule": {"cause": "station_silent", "silent_after_s": limit},
                    "site": site.id,
                    "stations": [d.id for d in devices],
                    "last_sample_at": datetime.fromtimestamp(newest, UTC) if newest else None,
                    "decision": f"no record from any of the site's stations for {limit} s",
                },
                site_id=site.id,
            ),
            self._now,
        )
        if new:
            self.report.raised += 1

    # --- class against the target -----------------------------------------------------

    def class_against_target(self, site: RiverSite, assessed: Sequence[assess.Assessed]) -> None:
        """Every run worse than the target with samples newer than the last check's, in
        the order they happened: a run a catch-up brought whole (an outage) is raised
        and ended too, dated when it happened."""
        target = int(site.target_class or 0)
        key = site_key(site.id, "class_worse")
        condition = self._session.get(SiteCondition, site.id)
        judged_for = f"{site.waterbody}:{target}"
        seen = (
            condition.class_seen_ts
            if condition is not None and condition.class_seen_for == judged_for
            else None
        )
        needed = self._settings.class_worse_samples
        for run, met_ts in assess.worse_runs(assessed, target):
            if (
                seen is not None
                and run.latest.sample.ts <= seen
                and (met_ts is None or met_ts <= seen)
            ):
                continue  # handled by an earlier check
            if len(run.samples) >= needed and (seen is None or run.latest.sample.ts > seen):
                self._raise_class(site, target, key, run)
            if met_ts is not None:
                why = "a classed sample meets the target again"
                at = datetime.fromtimestamp(met_ts, UTC)
                if alerts.end_cause(self._session, key, at, self._now, why):
                    self.report.ended += 1
        if condition is not None and assessed:
            condition.class_seen_ts = max(a.sample.ts for a in assessed)
            condition.class_seen_for = judged_for

    def _raise_class(self, site: RiverSite, target: int, key: str, run: assess.WorseRun) -> None:
        latest = run.latest
        names = [c.WATER_PARAMETERS[pid][0] for pid in latest.deciding]
        cls_name = waterclass.CLASS_NAMES[latest.cls or 0]
        draft = alerts.AlertDraft(
            subject_key=key,
            cause="class_worse",
            severity=self._severities["class_worse"],
            summary=f"site {site.name} is class {cls_name}, worse than its target "
            f"{waterclass.CLASS_NAMES[target]}: {', '.join(names)}",
            happened_at=datetime.fromtimestamp(run.since_ts, UTC),
            explanation=_explain(site, target, run, self._settings.class_worse_samples),
            site_id=site.id,
            device_id=latest.sample.device_id,
            evidence_at=datetime.fromtimestamp(latest.sample.ts, UTC),
            refresh_summary=True,  # it names the class and parameters of the newest sample
        )
        _alert, new = alerts.raise_alert(self._session, draft, self._now)
        if new:
            self.report.raised += 1

    def samples(
        self, device_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[assess.Sample]:
        return load_samples(self._query, device_ids, start, end)


RULE_CAUSES = {
    "above": "above_limit",
    "below": "below_limit",
    "class_worse": "class_for_days",
    "silent": "silent_for",
}


@dataclass(frozen=True)
class _Finding:
    bad: bool
    at: datetime  # when the bad state began, or when it ended
    why: str
    summary: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)


def _needs_s(rule: WaterRule) -> int:
    """How much history the rule's check looks at."""
    if rule.kind in ("above", "below"):
        return int(rule.duration_s or 0) + 3600
    if rule.kind == "class_worse":
        return (int(rule.days or 1) + 1) * 86400
    return 0


def _level_rule(rule: WaterRule, assessed: Sequence[assess.Assessed]) -> _Finding | None:
    """A parameter's trusted values above (below) the threshold for the duration."""
    pid = c.WATER_PARAMETER_IDS[str(rule.parameter)]
    threshold = float(rule.threshold or 0.0)
    above = rule.kind == "above"
    counted = [a for a in assessed if pid in a.counted]
    if not counted:
        return None
    run: list[assess.Assessed] = []
    for item in reversed(counted):
        value = item.counted[pid]
        if (value > threshold) if above else (value < threshold):
            run.append(item)
        else:
            break
    newest = counted[-1]
    name, unit = c.WATER_PARAMETERS[pid][0], c.WATER_PARAMETERS[pid][1]
    word = "above" if above else "below"
    if not run:
        return _Finding(
            False,
            _utc(newest.sample.ts),
            f"{name} {newest.counted[pid]} {unit}, not {word} {threshold}",
        )
    run.reverse()
    held = run[-1].sample.ts - run[0].sample.ts
    if held < int(rule.duration_s or 0):
        return None  # bad, not yet for long enough: nothing starts, nothing ends
    return _Finding(
        True,
        _utc(run[0].sample.ts),
        f"trusted {name} values {word} {threshold} {unit} for {held} s "
        f"(the rule: {rule.duration_s} s)",
        f"{name} {word} {threshold} {unit} for {held // 60} min",
        {
            "values": [
                {"ts": a.sample.ts, "device_id": a.sample.device_id, name: a.counted[pid]}
                for a in run[-10:]
            ],
            "held_s": held,
        },
    )


def _days_rule(
    rule: WaterRule,
    assessed: Sequence[assess.Assessed],
    waterbody: str,
    zone: ZoneInfo,
    now: datetime,
) -> _Finding | None:
    """Each of the last ``days`` whole local days classed worse than ``class_limit``."""
    limit, wanted = int(rule.class_limit or 5), int(rule.days or 1)
    today = now.astimezone(zone).date()
    days = {d.day: d for d in assess.daily_classes(assessed, waterbody, zone)}
    last = [today - timedelta(days=n) for n in range(wanted, 0, -1)]
    if last[-1] not in days or days[last[-1]].cls is None:
        return None  # yesterday not classed: nothing to decide on
    latest = days[last[-1]]
    if not waterclass.worse_than_target(latest.cls, limit):
        start = datetime.combine(today, datetime.min.time(), zone).astimezone(UTC)
        return _Finding(
            False, start, f"{latest.day} was class {waterclass.CLASS_NAMES[latest.cls or 0]}"
        )
    worse = [d for d in last if d in days and waterclass.worse_than_target(days[d].cls, limit)]
    if len(worse) < wanted:
        return None
    first = datetime.combine(last[0], datetime.min.time(), zone).astimezone(UTC)
    limit_name = waterclass.CLASS_NAMES[limit]
    return _Finding(
        True,
        first,
        f"{wanted} days in a row classed worse than {limit_name} (daily means of trusted values)",
        f"worse than class {limit_name} for {wanted} days",
        {
            "days": [
                {
                    "day": d.isoformat(),
                    "class": waterclass.CLASS_NAMES[days[d].cls or 0],
                    "deciding": [c.WATER_PARAMETERS[p][0] for p in days[d].deciding],
                }
                for d in last
            ]
        },
    )


def _last_heard(devices: Sequence[Device]) -> tuple[datetime, int | None]:
    """Since when a site's stations have been silent: their newest record (device time),
    or, if none has ever sent one, when the first was registered; and that record's ts."""
    newest = max((d.last_record_ts for d in devices if d.last_record_ts is not None), default=None)
    since = _utc(newest) if newest is not None else min(d.created_at for d in devices)
    return since, newest


def _silent_rule(rule: WaterRule, devices: Sequence[Device], now: datetime) -> _Finding:
    since, newest = _last_heard(devices)
    limit = int(rule.duration_s or 0)
    if (now - since).total_seconds() < limit:
        return _Finding(False, since, "samples arrive")
    return _Finding(
        True,
        since + timedelta(seconds=limit),
        f"no record from any of the site's stations for {limit} s",
        f"silent for {limit // 3600} h or more",
        {"last_sample_at": since if newest is not None else None},
    )


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _explain(site: RiverSite, target: int, run: assess.WorseRun, needed: int) -> dict[str, Any]:
    latest = run.latest
    deciding = []
    for pid in latest.deciding:
        name, unit = c.WATER_PARAMETERS[pid][0], c.WATER_PARAMETERS[pid][1]
        deciding.append(
            {
                "parameter": name,
                "unit": unit,
                "value": latest.counted.get(pid),
                "class": waterclass.CLASS_NAMES[latest.cls or 0],
                "target_bound": assess.bounds_of(pid, site.waterbody, target),
                "bound_kind": waterclass.limit_kind(pid),
            }
        )
    return {
        "rule": {
            "cause": "class_worse",
            "standard": "GB 3838-2002",
            "samples_in_a_row": needed,
            "method": "single factor: the worst counted parameter",
        },
        "site": site.id,
        "waterbody": site.waterbody,
        "target_class": waterclass.CLASS_NAMES[target],
        "class": waterclass.CLASS_NAMES[latest.cls or 0],
        "deciding": deciding,
        "samples": [
            {
                "ts": a.sample.ts,
                "device_id": a.sample.device_id,
                "class": waterclass.CLASS_NAMES[a.cls or 0],
                "deciding": [c.WATER_PARAMETERS[p][0] for p in a.deciding],
            }
            for a in run.samples[-10:]
        ],
        "not_counted": {
            c.WATER_PARAMETERS[pid][0]: list(reasons) for pid, reasons in latest.suspect.items()
        },
        "decision": f"{len(run.samples)} classed samples in a row worse than the target "
        f"(at least {needed} needed), since the first of them",
    }
