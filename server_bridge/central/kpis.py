"""KPI panels: each is a picture (SVG) plus the rows behind it (for CSV); listed in `wiring.register_core`."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server_bridge.central import charts
from server_bridge.central.fleet import uptime_counts
from server_bridge.central.models import Complaint, Lending, Rating

SATISFACTION_GOAL = 90.0


@dataclass(frozen=True)
class KpiWindow:
    now: float
    days: int = 14

    @property
    def since(self) -> float:
        return self.now - self.days * 86400

    def day_labels(self) -> list[str]:
        return [_day(self.now - (self.days - 1 - i) * 86400) for i in range(self.days)]


@dataclass(frozen=True)
class Panel:
    name: str
    title_key: str
    svg: str
    rows: list[dict[str, Any]]
    summary: str = ""


KpiFn = Callable[[Session, KpiWindow, Callable[..., str]], Panel]
def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%m-%d")


day_of = _day  # the day label of a time, for panels outside this module (desk.broadcasts)


def lendings_per_day(session: Session, w: KpiWindow, tr: Callable[..., str]) -> Panel:
    counts: Counter[tuple[str, str]] = Counter()
    for started_at, item_type in session.execute(select(Lending.started_at, Lending.item_type)
                                                 .where(Lending.started_at >= w.since)).tuples():
        counts[(_day(started_at), item_type)] += 1
    labels = w.day_labels()
    types = sorted({t for _, t in counts}) or ["umbrella", "power_bank"]
    series = {t: [float(counts[(d, t)]) for d in labels] for t in types}
    rows = [{"day": d, **{t: counts[(d, t)] for t in types}} for d in labels]
    total = sum(counts.values())
    return Panel("lendings", "kpi.lendings", charts.stacked_bars(labels, series, {t: tr(t) for t in types}),
                 rows, f"{total}")


def satisfaction(session: Session, w: KpiWindow, tr: Callable[..., str]) -> Panel:
    by_day: dict[str, list[int]] = defaultdict(list)
    for at, score in session.execute(select(Rating.at, Rating.score).where(Rating.at >= w.since)).tuples():
        by_day[_day(at)].append(score)
    scores = [s for v in by_day.values() for s in v]
    value = None if not scores else 100.0 * statistics.fmean(scores) / 5
    rows = [{"day": d, "ratings": len(by_day.get(d, [])),
             "score_100": round(100.0 * statistics.fmean(by_day[d]) / 5, 1) if by_day.get(d) else None}
            for d in w.day_labels()]
    return Panel("satisfaction", "kpi.satisfaction",
                 charts.goal_gauge(value, SATISFACTION_GOAL, tr("average"), tr("goal")), rows,
                 "" if value is None else f"{value:.1f} / {SATISFACTION_GOAL:g}")


def complaint_times(session: Session, w: KpiWindow, tr: Callable[..., str]) -> Panel:
    rows_db = session.scalars(select(Complaint).where(Complaint.filed_at >= w.since)).all()
    first = [(c.first_response_at - c.filed_at) / 3600 for c in rows_db if c.first_response_at]
    closed = [(c.closed_at - c.filed_at) / 3600 for c in rows_db if c.closed_at]
    ok_first = sum(1 for h in first if h <= 1) / len(first) * 100 if first else None
    ok_close = sum(1 for h in closed if h <= 24) / len(closed) * 100 if closed else None
    bars = []
    if first:
        bars.append((tr("first_response_h"), statistics.median(first), "#2f6fdf" if ok_first == 100 else "#f29f05"))
    if closed:
        bars.append((tr("resolution_h"), statistics.median(closed), "#2aa876" if ok_close == 100 else "#f29f05"))
    rows = [{"measure": "first_response_h", "median": statistics.median(first) if first else None,
             "count": len(first), "within_sla_pct": ok_first},
            {"measure": "resolution_h", "median": statistics.median(closed) if closed else None,
             "count": len(closed), "within_sla_pct": ok_close}]
    summary = " · ".join(f"{tr(r['measure'])} {tr('within_sla')} {r['within_sla_pct']:.0f}%"
                         for r in rows if r["within_sla_pct"] is not None)
    return Panel("complaint_times", "kpi.complaint_times", charts.hbars(bars, "h"), rows, summary)


def _floor_order(floor: str) -> tuple[int, str]:
    """B2 < B1 < 1F < 2F …; anything else after, alphabetically."""
    digits = "".join(ch for ch in floor if ch.isdigit())
    if digits and floor.upper().startswith("B"):
        return (-int(digits), floor)
    if digits and floor.upper().endswith("F"):
        return (int(digits), floor)
    return (10_000, floor)


def complaint_heatmap(session: Session, w: KpiWindow, tr: Callable[..., str]) -> Panel:
    counts: Counter[tuple[str, str]] = Counter()
    for category, floor in session.execute(select(Complaint.category, Complaint.floor)
                                           .where(Complaint.filed_at >= w.since)).tuples():
        counts[(category, floor)] += 1
    cats = sorted({c for c, _ in counts})
    floors = sorted({f for _, f in counts}, key=_floor_order)
    rows = [{"category": c, "floor": f, "complaints": n} for (c, f), n in sorted(counts.items())]
    names = {c: tr(f"cat.{c}", default=c) for c in cats}
    shown = {(names[c], f): n for (c, f), n in counts.items()}
    return Panel("complaint_heatmap", "kpi.complaint_heatmap",
                 charts.heatmap([names[c] for c in cats], floors, shown), rows)


def device_uptime(session: Session, w: KpiWindow, tr: Callable[..., str]) -> Panel:
    agg = uptime_counts(session, w.since)  # hourly/daily roll-ups plus the raw samples not rolled up yet
    rows: list[dict[str, Any]] = []
    bars: list[tuple[str, float, str]] = []
    for sid, (n, up, pn, pup, lt, lup) in sorted(agg.items()):
        station_pct = 100 * up / n
        printer_pct = 100 * pup / pn if pn else None
        lockers_pct = 100 * lup / lt if lt else None
        rows.append({"station_id": sid, "station_pct": station_pct, "printer_pct": printer_pct,
                     "lockers_pct": lockers_pct, "samples": n})
        bars.append((f"{sid} {tr('station')}", station_pct, "#2aa876" if station_pct >= 99 else "#e74c3c"))
        if printer_pct is not None:
            bars.append((f"{sid} {tr('printer')}", printer_pct, "#2f6fdf"))
        if lockers_pct is not None:
            bars.append((f"{sid} {tr('lockers')}", lockers_pct, "#9b59b6"))
    return Panel("uptime", "kpi.uptime", charts.hbars(bars, "%"), rows)
