"""The soak's verdict: lockers' journals (physical truth) against both stations' stores and the centre's database.

Exactly-once key: the unlock's cmd_id — journal `item_removed.cmd_id` ↔ station `intents.cmd_id` →
`lendings.intent_id` ↔ centre `lending.started.lending_id`.
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StationRecord:
    station_id: str
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)  # cmd_id -> intent row
    lendings_by_intent: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    lendings: list[dict[str, Any]] = field(default_factory=list)
    outbox_unsent: int = 0
    items: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class CentreRecord:
    started: Counter[str] = field(default_factory=Counter)  # lending_id -> number of lending.started events
    lendings: dict[str, dict[str, Any]] = field(default_factory=dict)
    unmatched_returns: int = 0
    acked: dict[str, int] = field(default_factory=dict)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a locker's journal (a torn last line from a SIGKILL is not an act)."""
    if not path.exists():
        return []
    acts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            acts.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return acts


def _ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def read_station(station_id: str, db: Path) -> StationRecord:
    rec = StationRecord(station_id)
    conn = _ro(db)
    try:
        for r in conn.execute("SELECT * FROM intents"):
            rec.intents[r["cmd_id"]] = dict(r)
        for r in conn.execute("SELECT * FROM lendings"):
            row = dict(r)
            rec.lendings.append(row)
            rec.lendings_by_intent[row["intent_id"]].append(row)
        rec.items = {r["item_id"]: dict(r) for r in conn.execute("SELECT * FROM items")}
        rec.outbox_unsent = conn.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
    finally:
        conn.close()
    return rec


def read_centre(db: Path) -> CentreRecord:
    rec = CentreRecord()
    conn = _ro(db)
    try:
        for r in conn.execute("SELECT data FROM events WHERE type='lending.started'"):
            data = r["data"] if isinstance(r["data"], dict) else json.loads(r["data"])
            rec.started[data["lending_id"]] += 1
        for r in conn.execute("SELECT * FROM lendings"):
            rec.lendings[r["lending_id"]] = dict(r)
        rec.unmatched_returns = conn.execute(
            "SELECT COUNT(*) FROM lending_returns WHERE outcome = 'unmatched'").fetchone()[0]
        rec.acked = {r["station_id"]: r["acked_seq"] for r in conn.execute("SELECT station_id, acked_seq FROM stations")}
    finally:
        conn.close()
    return rec


def reconcile(journals: dict[str, list[dict[str, Any]]], stations: list[StationRecord],
              centre: CentreRecord, lockers_of: dict[str, list[str]], examples: int = 5) -> dict[str, Any]:
    """Counts (and a few examples) of everything that is not exactly once."""
    removed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    opened: Counter[str] = Counter()
    inserted = 0
    last_act: dict[str, tuple[float, str, str]] = {}  # item -> (ts, act, locker) of its latest act
    for locker_id, acts in journals.items():
        for a in acts:
            if a["act"] == "item_removed":
                removed[a.get("cmd_id") or f"no-cmd:{locker_id}:{a['slot']}:{a['ts']}"].append({**a, "locker": locker_id})
            elif a["act"] == "door_opened":
                opened[a["cmd_id"]] += 1
            elif a["act"] == "item_inserted":
                inserted += 1
            if a.get("item") and a["act"] in ("item_removed", "item_inserted"):
                prev = last_act.get(a["item"])
                if prev is None or a["ts"] >= prev[0]:
                    last_act[a["item"]] = (a["ts"], a["act"], locker_id)

    intents: dict[str, dict[str, Any]] = {}
    lendings_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    station_lendings: dict[str, dict[str, Any]] = {}
    for st in stations:
        for cmd_id, intent in st.intents.items():
            intents[cmd_id] = {**intent, "station": st.station_id}
            lendings_of[cmd_id] += st.lendings_by_intent.get(intent["intent_id"], [])
        for row in st.lendings:
            station_lendings[row["lending_id"]] = row

    problems: dict[str, list[Any]] = {k: [] for k in (
        "lost_station", "lost_centre", "duplicated_station", "duplicated_centre", "double_opened",
        "opened_unissued", "phantom_station", "phantom_centre", "item_mismatch", "removed_twice", "stranded")}
    for cmd_id, acts in removed.items():
        if len(acts) > 1:
            problems["removed_twice"].append(cmd_id)
        rows = lendings_of.get(cmd_id, [])
        if not rows:
            problems["lost_station"].append({"cmd_id": cmd_id, "item": acts[0]["item"], "locker": acts[0]["locker"]})
            continue
        if len(rows) > 1:
            problems["duplicated_station"].append(cmd_id)
        for row in rows:
            if row["item_id"] != acts[0]["item"]:
                problems["item_mismatch"].append({"cmd_id": cmd_id, "lending": row["item_id"], "removed": acts[0]["item"]})
            if centre.started.get(row["lending_id"], 0) == 0 or row["lending_id"] not in centre.lendings:
                problems["lost_centre"].append(row["lending_id"])
    for lending_id, n in centre.started.items():
        if n > 1:
            problems["duplicated_centre"].append(lending_id)
        if lending_id not in station_lendings:
            problems["phantom_centre"].append(lending_id)
    for cmd_id, n in opened.items():
        if n > 1:
            problems["double_opened"].append(cmd_id)
        if cmd_id not in intents:
            problems["opened_unissued"].append(cmd_id)
    for cmd_id, rows in lendings_of.items():
        if rows and cmd_id not in removed:
            problems["phantom_station"] += [r["lending_id"] for r in rows]

    where = {item: lk for item, (_, act, lk) in last_act.items() if act == "item_inserted"}
    in_locker = set(where)
    for st in stations:  # back in one of this station's lockers, but its store still thinks it is out
        problems["stranded"] += [{"station": st.station_id, "item": item} for item in sorted(in_locker)
                                 if where.get(item) in lockers_of.get(st.station_id, ())
                                 and st.items.get(item, {}).get("status", "in_locker") != "in_locker"]
    centre_rows = list(centre.lendings.values())
    open_rows = [r for r in centre_rows if r["status"] == "open"]
    problems["centre_open_item_back"] = [{"lending": r["lending_id"], "item": r["item_id"]}
                                         for r in open_rows if r["item_id"] in in_locker]
    lost = {str(p) for p in problems["lost_station"]} | set(problems["lost_centre"])
    return {
        "operations": {"dispensed": sum(len(v) for v in removed.values()), "doors_opened": sum(opened.values()),
                       "returned": inserted, "intents": len(intents),
                       "intents_unresolved": sum(1 for i in intents.values() if i["state"] in ("pending", "opened")),
                       "station_lendings": len(station_lendings)},
        "lost": len(lost),
        "duplicated": len(problems["duplicated_station"]) + len(problems["duplicated_centre"])
        + len(problems["removed_twice"]),
        "double_dispensed": len(set(problems["double_opened"]) | set(problems["opened_unissued"])),
        "phantom": len(problems["phantom_station"]) + len(problems["phantom_centre"]),
        "item_mismatch": len(problems["item_mismatch"]),
        "outbox_unsent": sum(st.outbox_unsent for st in stations),
        "stranded_items": len(problems["stranded"]),
        "centre": {"lendings": len(centre_rows), "open": len(open_rows), "closed": len(centre_rows) - len(open_rows),
                   "open_but_item_back_in_a_locker": len(problems["centre_open_item_back"]),
                   "unmatched_returns": centre.unmatched_returns, "acked_seq": centre.acked},
        "examples": {k: v[:examples] for k, v in problems.items() if v},
    }


def print_table(report: dict[str, Any]) -> None:
    ops = report["operations"]
    rows = [("lendings (physical dispenses)", ops["dispensed"]), ("returns (items back in a locker)", ops["returned"]),
            ("doors opened", ops["doors_opened"]), ("intents written", ops["intents"]),
            ("faults injected", report["faults"]),
            *((f"  {k}", v) for k, v in report["faults_by_kind"].items()),
            ("lost", report["lost"]), ("duplicated", report["duplicated"]),
            ("double dispensed", report["double_dispensed"]), ("phantom", report["phantom"]),
            ("item mismatch", report["item_mismatch"]), ("intents unresolved", ops["intents_unresolved"]),
            ("outbox unsent", report["outbox_unsent"]),
            ("centre lendings (open/closed)", f"{report['centre']['lendings']} "
                                              f"({report['centre']['open']}/{report['centre']['closed']})"),
            ("centre open, item back in a locker", report["centre"]["open_but_item_back_in_a_locker"]),
            ("stranded (back, station thinks out)", report["stranded_items"]),
            ("run s / recovery s", f"{report['run_s']} / {report['recovery_s']}"),
            ("lendings per s", report["lendings_per_s"])]
    pay = report.get("payments")
    if pay:  # issue 14: the money verdict
        rows += [("paid QR deposits (dispensed / walked away)", f"{pay['paid']} ({pay['dispensed']} / "
                                                               f"{pay['walked_away']})"),
                 ("deposits refunded (in full, undispensed)", f"{pay['deposits_refunded']} "
                                                              f"({pay['refunded_in_full_undispensed']})"),
                 ("payment faults", sum(pay["faults"].values())), *((f"  {k}", v) for k, v in pay["faults"].items()),
                 ("double refunds", pay["double_refunds"]),
                 ("paid, neither dispensed nor refunded", pay["paid_neither_dispensed_nor_refunded"]),
                 ("dispensed and refunded in full", pay["dispensed_and_refunded_in_full"]),
                 ("refunds without a payment", pay["refunds_without_payment"])]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
