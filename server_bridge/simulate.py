"""Simulated station activity written to a real station outbox (benches, fault tests, demos)."""
from __future__ import annotations

from kiosk.store import Store

T0 = 1_764_000_000.0


def fill_outbox(store: Store, n: int, station: str = "K01", start_at: float = T0, chunk: int = 5000) -> None:
    """n events the way services append them: a lending, its return, a rating, repeated."""
    done = 0
    while done < n:
        with store.transaction() as conn:
            for _ in range(min(chunk, n - done)):
                i, at = done, start_at + done
                if i % 3 == 0:
                    store.append_event(conn, "lending.started", {
                        "lending_id": f"{station}-L{i}", "member_id": "M10001", "item_type": "umbrella",
                        "item_id": f"{station}-U{i}", "station_id": station, "locker_id": "UL1",
                        "slot": 1 + i % 24, "started_at": at, "due_at": at + 86400}, at=at)
                elif i % 3 == 1:
                    store.append_event(conn, "lending.returned", {
                        "lending_id": f"{station}-L{i - 1}", "item_id": f"{station}-U{i - 1}",
                        "item_type": "umbrella", "member_id": "M10001", "station_id": station, "locker_id": "UL1",
                        "slot": 1 + i % 24, "returned_at": at + 60, "fee_cents": 0, "duration_s": 60}, at=at)
                else:
                    store.append_event(conn, "survey.rated", {"flow": "borrow", "score": 1 + i % 5,
                                                              "lang": "zh_CN"}, at=at)
                done += 1
