"""Diagnostics: turn a station health report into the problems a person has to go and fix."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

OUTBOX_STALE_S = 3600.0
DISK_MIN_FREE_BYTES = 1 << 30
DISK_MIN_FREE_RATIO = 0.05
HEALTH_FILE_FRESH_S = 60.0


@dataclass(frozen=True)
class Problem:
    code: str
    device: str
    message: str


def assess(health: dict[str, Any]) -> list[Problem]:
    """Everything in the report that needs a person (empty list: the station is fine)."""
    problems: list[Problem] = []
    if not health.get("broker", {}).get("reachable", True):
        problems.append(Problem("broker_unreachable", "broker", "the MQTT broker does not answer"))
    for lk in health.get("lockers", []):
        lid = lk["locker_id"]
        if not lk.get("online"):
            problems.append(Problem("locker_offline", lid, f"locker {lid} is offline"))
        faults = [s["slot"] for s in lk.get("slots", []) if s.get("state") == "fault"]
        if faults:
            problems.append(Problem("slot_fault", lid, f"locker {lid} slots in fault: {faults}"))
        slots = lk.get("slots", [])
        if lk.get("online") and slots:
            if lk.get("item_type") == "storage":  # bag storage fills up; lending lockers run dry
                if all(s.get("item") for s in slots):
                    problems.append(Problem("locker_full", lid, f"storage locker {lid} has no free door"))
            elif not any(s.get("item") for s in slots):
                problems.append(Problem("locker_empty", lid, f"locker {lid} has no items left"))
    printer = health.get("printer")
    if printer is not None:
        if not printer.get("online"):
            problems.append(Problem("printer_offline", "printer", "the receipt printer does not answer"))
        elif printer.get("paper_out"):
            problems.append(Problem("paper_out", "printer", "the receipt printer is out of paper"))
        elif printer.get("cover_open"):
            problems.append(Problem("cover_open", "printer", "the receipt printer's cover is open"))
        elif printer.get("paper_near_end"):
            problems.append(Problem("paper_near_end", "printer", "the paper roll is nearly finished"))
    camera = health.get("camera")
    if camera is not None and not camera.get("connected"):
        problems.append(Problem("camera_lost", "camera", "the camera sends no frames"))
    central = health.get("central_probe")
    if central is not None and not central.get("reachable"):
        problems.append(Problem("central_unreachable", "central", "the central service does not answer"))
    outbox = health.get("outbox", {})
    if (outbox.get("oldest_age_s") or 0) > OUTBOX_STALE_S:
        problems.append(Problem("outbox_stale", "uploader",
                                f"{outbox.get('depth')} events not uploaded for over an hour"))
    disk = health.get("disk")
    if disk and (disk["free_bytes"] < DISK_MIN_FREE_BYTES or disk["free_bytes"] < disk["total_bytes"] * DISK_MIN_FREE_RATIO):
        problems.append(Problem("disk_low", "disk", "less than 1 GiB or 5 % of the disk is free"))
    return problems


def report(health: dict[str, Any]) -> dict[str, Any]:
    problems = assess(health)
    return {"ok": not problems, "problems": [asdict(p) for p in problems], **health}
