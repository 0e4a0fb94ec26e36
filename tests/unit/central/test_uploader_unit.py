"""Uploader pieces without a network: backoff with jitter, heartbeat body, status while the centre is away."""
from __future__ import annotations

import json
import random
from pathlib import Path

import httpx

from kiosk.store import Store
from server_bridge.uploader import BACKOFF_MAX_S, Uploader
from tests.fixtures.disk import SmallDisk


def make(tmp_path: Path, handler: object, **kw: object) -> tuple[Store, Uploader]:
    store = Store(tmp_path / "station.db")
    up = Uploader(store, "K01", "http://127.0.0.1:9", "tok", lambda: {"version": "9.9"},
                  rng=random.Random(7), transport=httpx.MockTransport(handler), **kw)  # type: ignore[arg-type]
    return store, up


def test_backoff_grows_with_jitter_and_stays_bounded(tmp_path: Path) -> None:
    _, up = make(tmp_path, lambda r: httpx.Response(503))
    delays = [up.next_delay(n) for n in range(1, 20)]
    assert delays[0] <= 0.5 and delays[3] > delays[0]
    assert max(delays) <= BACKOFF_MAX_S and min(delays[12:]) >= BACKOFF_MAX_S / 2
    spread = {round(up.next_delay(6), 3) for _ in range(20)}
    assert len(spread) > 10


def test_events_stay_queued_while_the_centre_fails_and_status_says_so(tmp_path: Path) -> None:
    store, up = make(tmp_path, lambda r: httpx.Response(503))
    store.record_event("survey.rated", {"flow": "borrow", "score": 4, "lang": "zh_CN"})
    assert up.drain_once() == 0
    status = up.status()
    assert status["link"] == "down" and status["failures"] == 1 and status["outbox_depth"] == 1


def test_only_acknowledged_events_are_marked_sent(tmp_path: Path) -> None:
    bodies: list[dict] = []

    def centre(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        assert request.headers["Authorization"] == "Bearer tok"
        return httpx.Response(200, json={"acked_seq": 2})

    store, up = make(tmp_path, centre)
    for score in (1, 2, 3):
        store.record_event("survey.rated", {"flow": "f", "score": score, "lang": "en"})
    assert up.drain_once() == 2
    assert [e["seq"] for e in bodies[0]["events"]] == [1, 2, 3]
    assert set(bodies[0]["events"][0]) == {"seq", "id", "type", "ts", "data"}
    assert store.outbox_depth()[0] == 1 and up.status()["acked_seq"] == 2


def test_heartbeat_carries_outbox_depth_and_health(tmp_path: Path) -> None:
    seen: list[dict] = []

    def centre(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(204)

    store, up = make(tmp_path, centre)
    store.record_event("x.y", {})
    assert up.heartbeat_once()
    assert seen[0]["outbox"]["depth"] == 1 and seen[0]["version"] == "9.9" and "ts" in seen[0]


def test_oversized_batch_is_split(tmp_path: Path) -> None:
    sizes: list[int] = []

    def centre(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        sizes.append(len(events))
        if len(events) > 2:
            return httpx.Response(413)
        return httpx.Response(200, json={"acked_seq": events[-1]["seq"]})

    store, up = make(tmp_path, centre, batch_max=8)
    with store.transaction() as conn:
        for _ in range(8):
            store.append_event(conn, "x.y", {})
    while store.outbox_depth()[0]:
        up.drain_once()
    assert sizes[:3] == [8, 4, 2] and store.outbox_depth()[0] == 0


def test_a_refused_heartbeat_or_broken_probe_does_not_hold_back_events(tmp_path: Path) -> None:
    def centre(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/heartbeat"):
            return httpx.Response(422, json={"code": "invalid_request"})
        return httpx.Response(200, json={"acked_seq": json.loads(request.content)["events"][-1]["seq"]})

    def broken_probe() -> dict:
        raise RuntimeError("camera driver crashed")

    store = Store(tmp_path / "station.db")
    up = Uploader(store, "K01", "http://127.0.0.1:9", "tok", broken_probe, rng=random.Random(3),
                  batch_max_age_s=0.0, transport=httpx.MockTransport(centre))
    store.record_event("survey.rated", {"flow": "f", "score": 5, "lang": "en"})
    assert up._step() == 0.0  # heartbeat refused, then the batch went out in the same step
    status = up.status()
    assert status["outbox_depth"] == 0 and status["link"] == "up" and "422" in status["heartbeat_error"]


def test_a_full_disk_while_uploading_loses_and_doubles_nothing(small_disk: SmallDisk) -> None:
    """SQLITE_FULL while uploading (issue 12), on a really full filesystem: the centre stores the batch but the
    station cannot note the ack; the events go again when there is room and the centre, which keeps one row per
    station + seq (as ingest does), holds each once."""
    stored: dict[int, str] = {}

    def centre(request: httpx.Request) -> httpx.Response:
        for ev in json.loads(request.content)["events"]:
            assert stored.setdefault(ev["seq"], ev["id"]) == ev["id"]
        return httpx.Response(200, json={"acked_seq": max(stored)})

    store, up = make(small_disk.path, centre)
    for score in range(1, 41):
        store.record_event("survey.rated", {"flow": "borrow", "score": score % 5 + 1, "lang": "en"})
    small_disk.fill(store)
    assert up.drain_once() == 0
    assert up.status()["link"] == "up" and store.outbox_depth()[0] == 40, "nothing marked sent, nothing lost"
    small_disk.free(store)
    assert up.drain_once() == 40
    assert store.outbox_depth()[0] == 0 and sorted(stored) == list(range(1, 41))
    store.close()


def test_a_parked_event_the_centre_no_longer_holds_goes_again(tmp_path: Path) -> None:
    """The centre's database was restored from before it quarantined seq 2: its run stops at 1, so the parked
    event is sent again for the centre to judge anew (it would otherwise wait for it forever)."""
    sent: list[list[int]] = []

    def centre(request: httpx.Request) -> httpx.Response:
        seqs = [e["seq"] for e in json.loads(request.content)["events"]]
        sent.append(seqs)
        if 2 in seqs:  # judged anew: still refused, held again, and the run passes it
            return httpx.Response(200, json={"acked_seq": 3, "refused": [
                {"seq": 2, "id": "x", "code": "event_invalid", "message": "again"}]})
        return httpx.Response(200, json={"acked_seq": 1})

    store, up = make(tmp_path, centre)
    for score in (1, 2, 3):
        store.record_event("survey.rated", {"flow": "f", "score": score, "lang": "en"})
    store.mark_sent(1, {2: "data.lang: refused"})
    assert up.drain_once() == 0 and sent == [[3]]
    assert not store.is_parked(2) and up.status()["upload_problem"]["kind"] == "centre_behind"
    assert up.drain_once() == 1 and sent[-1] == [2, 3]
    assert [(r.event.seq, r.reason) for r in store.outbox_refused()] == [(2, "again")]
    assert store.outbox_depth()[0] == 0
