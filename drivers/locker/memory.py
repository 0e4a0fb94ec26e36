"""A locker's flash: slot contents and recent answers survive a power cut, and every physical act is journaled.

`LockerMemory(state_file, journal)` is optional for the simulator (`--state-file`, `--journal`). Before a batch
of messages leaves, its physical acts (door_opened, item_removed, item_inserted) are appended to the journal
as fsynced JSON lines, then the state is written atomically; at start the state is loaded and any journal
lines written after it are replayed, so a kill between the two loses nothing.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drivers.locker.firmware import LockerFirmware, Outgoing
from drivers.locker.models import Ack, Event

log = logging.getLogger(__name__)

ACTS = ("door_opened", "item_removed", "item_inserted")
ANSWERS_SAVED = 256  # a station retries a cmd_id only within its short ttl; recent answers are enough


class LockerMemory:
    def __init__(self, state_file: Path | None, journal: Path | None) -> None:
        self.state_file = state_file
        self.journal = journal
        self.journal_lines = 0
        self._journal_fd: int | None = None

    # start-up ---------------------------------------------------------------------------------
    def load(self, fw: LockerFirmware) -> bool:
        """Restore `fw` from the state file and the journal; False when there was nothing to restore."""
        restored = False
        saved_lines = 0
        if self.state_file is not None and self.state_file.exists():
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            fw.seq = int(data["seq"])
            for s in data["slots"]:
                slot = fw.slots[s["slot"] - 1]
                slot.item, slot.battery = s.get("item"), s.get("battery")
                slot.fault, slot.jammed, slot.disabled = s.get("fault", False), s.get("jammed", False), \
                    s.get("disabled", False)
                slot.door_open, slot.opened_by = False, None  # a power cut lets the latch close
                slot.taken_by = s.get("taken_by")
            for cmd_id, ack in data.get("answers", []):
                fw._answers[cmd_id] = Ack.model_validate(ack)
            saved_lines = int(data.get("journal_lines", 0))
            restored = True
        if self.journal is not None and self.journal.exists():
            raw = self.journal.read_bytes()
            lines = raw.split(b"\n")
            complete = lines[:-1]  # whatever follows the last newline was torn by the cut
            for line in complete[saved_lines:]:
                self._replay(fw, line)
                restored = True
            self.journal_lines = len(complete)
            if lines[-1]:
                with open(self.journal, "ab") as f:  # the next act starts on a line of its own
                    f.write(b"\n")
                self.journal_lines += 1
        if restored:
            log.info("locker.memory_restored locker=%s seq=%d journal_lines=%d", fw.locker_id, fw.seq,
                     self.journal_lines)
        return restored

    @staticmethod
    def _replay(fw: LockerFirmware, line: bytes) -> None:
        try:
            act = json.loads(line)
        except json.JSONDecodeError:
            return
        slot = fw.slots[act["slot"] - 1]
        fw.seq = max(fw.seq, int(act.get("seq") or 0))
        if act["act"] == "door_opened" and act.get("cmd_id"):
            fw._answers[act["cmd_id"]] = Ack(cmd_id=act["cmd_id"], ok=True, result="opened", slot=act["slot"])
        elif act["act"] == "item_removed":
            slot.item, slot.battery = None, None
            slot.taken_by = act.get("cmd_id")
        elif act["act"] == "item_inserted":
            slot.item, slot.battery = act.get("item"), act.get("battery")

    # every batch ------------------------------------------------------------------------------
    def record(self, fw: LockerFirmware, batch: Iterable[Outgoing]) -> None:
        """Journal the batch's physical acts and save the state, before any of it is published."""
        batch = list(batch)
        acts = [o.message for o in batch if isinstance(o.message, Event) and o.message.type in ACTS]
        if acts and self.journal is not None:
            self._append([{"act": e.type, "ts": e.ts, "seq": e.seq, "slot": e.slot, "item": e.item,
                           "cmd_id": e.cmd_id, "battery": e.battery} for e in acts])
        if self.state_file is not None and any(o.leaf in ("state", "ack") for o in batch):
            self._save(fw)

    def _append(self, acts: list[dict[str, Any]]) -> None:
        assert self.journal is not None
        if self._journal_fd is None:
            self._journal_fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        data = "".join(json.dumps(a, separators=(",", ":")) + "\n" for a in acts).encode("utf-8")
        os.write(self._journal_fd, data)
        os.fsync(self._journal_fd)
        self.journal_lines += len(acts)

    def _save(self, fw: LockerFirmware) -> None:
        assert self.state_file is not None
        answers = list(fw._answers.items())[-ANSWERS_SAVED:]
        data = {"seq": fw.seq, "journal_lines": self.journal_lines,
                "slots": [{"slot": s.number, "item": s.item, "battery": s.battery, "fault": s.fault,
                           "jammed": s.jammed, "disabled": s.disabled, "taken_by": s.taken_by} for s in fw.slots],
                "answers": [[cmd_id, ack.model_dump(exclude_none=True)] for cmd_id, ack in answers]}
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_file)

    def close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
