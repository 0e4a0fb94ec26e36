"""The station's health report in words for the staff screen (never Python reprs or raw keys).

Pure functions over the health dict (`Station.health()`); `t(msgid)` translates. Unknown parts are left out
rather than dumped.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Translate = Callable[[str], str]

SLOT_OPS = {"unlock": "Open slot", "selftest": "Self-test slot"}
RESULTS = {"ok": "done", "timeout": "no answer from the locker", "no_answer": "no answer from the locker",
           "fault": "the slot reports a fault", "locker_offline": "the locker is offline"}


def printer_words(printer: Mapping[str, Any] | None, t: Translate) -> str:
    if printer is None:
        return t("none")
    if not printer.get("online"):
        return t("not answering")
    if printer.get("paper_out"):
        return t("out of paper")
    if printer.get("cover_open"):
        return t("cover open")
    if printer.get("paper_near_end"):
        return t("paper nearly finished")
    return t("ready")


def camera_words(camera: Mapping[str, Any] | None, t: Translate) -> str:
    if camera is None:
        return t("none")
    if not camera.get("connected"):
        return t("no picture")
    fps = float(camera.get("fps") or 0.0)
    return t("working, {fps} pictures per second").format(fps=f"{fps:.0f}")


def _duration(seconds: float, t: Translate) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return t("under a minute")
    if minutes < 60:
        return t("{minutes} min").format(minutes=minutes)
    return t("{hours} h {minutes} min").format(hours=minutes // 60, minutes=minutes % 60)


def other_lines(health: Mapping[str, Any], t: Translate) -> list[str]:
    """Outbox, centre link, disk, uptime and version, one sentence each."""
    lines: list[str] = []
    outbox = health.get("outbox")
    if isinstance(outbox, Mapping):
        depth = int(outbox.get("depth") or 0)
        oldest = outbox.get("oldest_age_s", outbox.get("oldest_s"))
        if depth == 0:
            lines.append(t("Records to send: none waiting"))
        else:
            lines.append(t("Records to send: {count} waiting, the oldest for {age}").format(
                count=depth, age=_duration(float(oldest or 0), t)))
    central = health.get("central")
    if isinstance(central, Mapping):
        state = central.get("state")
        ok = str(state) == "up" if state is not None else not central.get("last_error")
        lines.append(t("Service centre: connected") if ok else
                     t("Service centre: not reachable, {count} tries so far").format(
                         count=int(central.get("failures") or 0)))
    disk = health.get("disk")
    if isinstance(disk, Mapping) and disk.get("total_bytes"):
        lines.append(t("Disk: {free} GB free of {total} GB").format(
            free=f"{disk['free_bytes'] / 1e9:.1f}", total=f"{disk['total_bytes'] / 1e9:.0f}"))
    if health.get("uptime_s") is not None:
        lines.append(t("Running for {duration}").format(duration=_duration(float(health["uptime_s"]), t)))
    if health.get("version"):
        lines.append(t("Software version {version}").format(version=health["version"]))
    return lines

