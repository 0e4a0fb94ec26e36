"""SLA clocks of a complaint (seed: 1 h first response, 24 h closure), for status pages, ops and KPIs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FIRST_RESPONSE_S = 3600.0
CLOSURE_S = 86_400.0


@dataclass(frozen=True)
class SlaClock:
    name: str  # first_response | closure
    due_at: float
    done_at: float | None
    now: float

    @property
    def met(self) -> bool:
        return self.done_at is not None and self.done_at <= self.due_at

    @property
    def breached(self) -> bool:
        return (self.done_at if self.done_at is not None else self.now) > self.due_at

    @property
    def remaining_s(self) -> float:
        """Seconds left (negative once breached); frozen once the step is done."""
        return self.due_at - (self.done_at if self.done_at is not None else self.now)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "due_at": self.due_at, "done_at": self.done_at, "met": self.met,
                "breached": self.breached, "remaining_s": round(self.remaining_s)}


def clocks(filed_at: float, first_response_at: float | None, closed_at: float | None, now: float,
           first_response_s: float = FIRST_RESPONSE_S, closure_s: float = CLOSURE_S) -> tuple[SlaClock, SlaClock]:
    return (SlaClock("first_response", filed_at + first_response_s, first_response_at, now),
            SlaClock("closure", filed_at + closure_s, closed_at, now))
