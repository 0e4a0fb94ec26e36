"""Station → centre: drains the outbox in seq order in bounded batches and sends heartbeats (docs/architecture.md, "The event envelope").

Events are marked sent only up to the centre's `acked_seq`; anything unanswered is sent again and the
centre ignores what it already has. Runs in its own thread and only touches the store briefly.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from kiosk.services.diagnostics import LinkState, UploadLink
from kiosk.store import SEQ_OFFSET_KEY, OutboxEvent, Store, StoreFull

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 60.0
POLL_S = 0.2
DISK_FULL_RETRY_S = 5.0  # the station's disk is full: resend (and try to note the ack) this often
RECOVERY_SHOWN_S = 86400.0  # diag shows an upload recovery for a day
# Tells the centre this station parks what it refuses for its content (docs/central.md, "Refused events"): the
# answer then lists those events and the rest of the batch is stored. A centre that does not know the header
# refuses the whole batch with a 422 as before, and the uploader retries it with backoff (nothing is parked).
REFUSALS_HEADERS = {"X-Upload-Refusals": "quarantine"}


class UploadRefused(Exception):
    """The centre answered with a 4xx: retrying the same request soon will not help."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"centre refused the request: HTTP {status} {body[:200]}")
        self.status = status
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        self.body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}


class Uploader:
    """Background uploader; `drain_once()` and `heartbeat_once()` are the single steps the thread repeats."""

    def __init__(self, store: Store, station_id: str, central_url: str, token: str,
                 health: Callable[[], dict[str, Any]], *, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, batch_max: int = 500, batch_max_age_s: float = 1.0,
                 heartbeat_s: float = 15.0, timeout_s: float = 5.0, backoff_max_s: float = BACKOFF_MAX_S,
                 transport: httpx.BaseTransport | None = None,
                 on_answer: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.store = store
        self.station_id = station_id
        self.base = central_url.rstrip("/")
        self.health = health
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch_max = batch_max
        self.batch_max_age_s = batch_max_age_s
        self.heartbeat_s = heartbeat_s
        self.backoff_max_s = backoff_max_s
        # what the heartbeat answer carries for the station (issue 15: `config` {version, etag}); called on
        # the uploader's thread, so it must only hand the work on (kiosk.bundles fetches on its own thread)
        self.on_answer = on_answer
        # no token (its file is missing): send none, so the centre's 401 says so rather than a local error
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(timeout=timeout_s, transport=transport,
                                  headers={**auth, "Content-Type": "application/json"})
        self._events_url = f"{self.base}/api/v1/stations/{station_id}/events"
        self._heartbeat_url = f"{self.base}/api/v1/stations/{station_id}/heartbeat"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._started_at = clock()
        self._failures = 0
        self._backoff_s = 0.0
        self._next_try = 0.0
        self._next_heartbeat = 0.0
        self._link: str = "unknown"
        self._last_success: float | None = None
        self._last_error: str | None = None
        self._refused_status: int | None = None  # the HTTP status of the last refusal while the link is down
        self._acked_seq = 0
        self._sent_total = 0
        self._batch_limit = batch_max
        self._heartbeat_error: str | None = None
        self._last_heartbeat: float | None = None
        # wire seq = outbox seq + offset; the offset moves only when the centre refuses our seqs as reused
        self._offset = int(store.get_kv(SEQ_OFFSET_KEY) or 0)
        self._problem: dict[str, Any] | None = None
        self._reused_streak = 0
        self._answer_listeners: list[Callable[[dict[str, Any]], None]] = []

    # single steps -----------------------------------------------------------------------------
    def drain_once(self) -> int:
        """Send one batch of whatever is pending now; returns how many events the centre newly confirmed."""
        return self._send(self.store.outbox_pending(self._batch_limit))

    def _send(self, pending: list[OutboxEvent]) -> int:
        if not pending:
            return 0
        offset = self._offset
        body = json.dumps({"events": [{**ev.envelope(), "seq": ev.seq + offset} for ev in pending]},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            answer = self._post(self._events_url, body, REFUSALS_HEADERS)
        except UploadRefused as exc:
            if exc.status == 409 and exc.body.get("code") == "seq_reused" and self._renumber(pending, exc.body):
                return 0  # sent again at once under the new numbering
            if exc.status == 413 and self._batch_limit > 1:
                self._batch_limit = max(1, self._batch_limit // 2)  # smaller batches will fit
            self._failed(str(exc), refused=exc.status)
            return 0
        except (httpx.HTTPError, OSError, ValueError) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return 0
        self._reused_streak = 0
        acked = int(answer.get("acked_seq", 0)) - offset  # in outbox seqs
        if acked < pending[0].seq - 1:
            self._resend_after(acked, pending[0].seq)
        refused = self._refused(answer, offset, {ev.seq for ev in pending})
        try:
            newly = self.store.mark_sent(acked, refused) if acked > 0 or refused else 0
            if acked >= 0 and self.store.is_parked(acked + 1):
                self._requeue_lost(acked + 1)
        except StoreFull as exc:
            # The centre has them; with no room to note that, they go again later and its ack (idempotent on
            # station + seq) settles them then. Nothing is lost or doubled.
            log.error("upload.mark_sent_deferred station=%s acked_seq=%d error=%s", self.station_id, acked, exc)
            self._succeeded()
            self._next_try = self.clock() + DISK_FULL_RETRY_S
            return 0
        self._succeeded()
        with self._lock:
            self._acked_seq = max(self._acked_seq, acked)
            self._sent_total += newly
            self._batch_limit = self.batch_max
        log.debug("upload.batch station=%s sent=%d acked_seq=%d", self.station_id, len(pending), acked)
        return newly

    def _refused(self, answer: dict[str, Any], offset: int, sent: set[int]) -> dict[int, str]:
        """{outbox seq: the centre's reason} of the events it refused for their content and holds in quarantine
        (they are parked, not marked sent; the events after them go on)."""
        out: dict[int, str] = {}
        for item in answer.get("refused") or []:
            seq = item.get("seq") if isinstance(item, dict) else None
            if isinstance(seq, int) and seq - offset in sent:
                reason = str(item.get("message") or item.get("code") or "refused")
                out[seq - offset] = reason
                log.error("upload.event_refused station=%s seq=%d reason=%s", self.station_id, seq, reason)
        return out

    def _requeue_lost(self, seq: int) -> None:
        """The centre's run stops just below a parked event: it no longer holds it in quarantine (its database
        was restored from an older backup), so it goes again and the centre judges it anew."""
        with self.store.transaction() as conn:
            self.store.unpark(conn, [seq])
        self._note_problem("centre_behind", {"centre_acked_seq": seq - 1 + self._offset,
                                             "resent_from_seq": seq + self._offset, "events": 1})

    def _resend_after(self, acked: int, first_pending: int) -> None:
        """The centre lacks events it had acknowledged (its database was restored from an older backup):
        they are still in the outbox, so they go again, from the first one it lacks."""
        with self.store.transaction() as conn:
            again = conn.execute("UPDATE outbox SET sent_at=NULL WHERE seq>? AND seq<? AND sent_at IS NOT NULL",
                                 (max(acked, 0), first_pending)).rowcount
        self._note_problem("centre_behind", {"centre_acked_seq": acked + self._offset,
                                             "resent_from_seq": max(acked, 0) + 1 + self._offset, "events": again})

    def _renumber(self, pending: list[OutboxEvent], body: dict[str, Any]) -> bool:
        """The centre has other events under our seqs (this station was re-imaged and numbers from 1 again):
        number ours after the centre's last one. False when that did not help before (then back off)."""
        top = body.get("max_seq")
        self._reused_streak += 1
        if not isinstance(top, int) or top < 0 or self._reused_streak > 3:
            return False
        offset = top + 1 - pending[0].seq
        if offset <= self._offset:
            return False
        self.store.set_kv(SEQ_OFFSET_KEY, str(offset))
        with self._lock:
            self._offset = offset
        self._note_problem("seq_reused", {"centre_max_seq": top, "seq_offset": offset,
                                          "first_seq_now": pending[0].seq + offset})
        return True

    def _note_problem(self, kind: str, detail: dict[str, Any]) -> None:
        log.warning("upload.recovering station=%s problem=%s detail=%s", self.station_id, kind, detail)
        with self._lock:
            self._problem = {"kind": kind, "at": time.time(), **detail}

    def heartbeat_once(self) -> bool:
        """Send device health now; True when the centre took it."""
        try:
            beat = dict(self.health() or {})
        except Exception:  # a broken health probe must not silence the station: send what we know
            log.exception("upload.health_failed station=%s", self.station_id)
            beat = {}
        depth, oldest = self.store.outbox_depth()
        beat.setdefault("version", "unknown")
        beat.setdefault("uptime_s", round(self.clock() - self._started_at, 1))
        beat.setdefault("lockers", [])
        beat["ts"] = time.time()
        beat["outbox"] = {"depth": depth, "oldest_age_s": None if oldest is None else round(oldest, 1)}
        try:
            answer = self._post(self._heartbeat_url, json.dumps(beat, ensure_ascii=False, default=str).encode("utf-8"))
        except UploadRefused as exc:
            if exc.status in (401, 403):  # the centre does not take this station's token: the whole link is refused
                self._failed(f"heartbeat: {exc}", refused=exc.status)
                return False
            # Reachable but refused (a health field it cannot read): events keep flowing, status() tells why.
            with self._lock:
                self._heartbeat_error = str(exc)
            log.warning("upload.heartbeat_refused station=%s status=%d", self.station_id, exc.status)
            return False
        except (httpx.HTTPError, OSError, ValueError) as exc:
            self._failed(f"heartbeat: {exc}")
            return False
        with self._lock:
            self._heartbeat_error, self._last_heartbeat = None, time.time()
        self._succeeded()
        if answer:  # 200 with what waits for us (a config bundle, remote commands); 204 says nothing
            for listener in [self.on_answer, *self._answer_listeners]:
                if listener is None:
                    continue
                try:
                    listener(answer)
                except Exception:  # whatever the answer asked for must not stop uploads
                    log.exception("upload.answer_failed station=%s", self.station_id)
        return True

    def get(self, path: str, etag: str | None = None) -> tuple[int, bytes, str | None]:
        """GET `/api/v1/stations/{id}/{path}` with the station's token: (status, body, ETag). Raises
        httpx.HTTPError when the centre cannot be reached."""
        headers = {"If-None-Match": f'"{etag}"'} if etag else {}
        response = self._http.get(f"{self.base}/api/v1/stations/{self.station_id}/{path}", headers=headers)
        return response.status_code, response.content, (response.headers.get("etag") or "").strip('"') or None

    def on_heartbeat_answer(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Also `listener(answer)` after each heartbeat the centre answered with a body (besides `on_answer`):
        `{"config": …, "commands": n}`; on the uploader's thread, so keep it short (wake your own worker)."""
        self._answer_listeners.append(listener)

    def _post(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self._http.post(url, content=body, headers=headers)
        if 400 <= response.status_code < 500:
            raise UploadRefused(response.status_code, response.text)
        response.raise_for_status()
        return response.json() if response.content else {}

    # link state -------------------------------------------------------------------------------
    def next_delay(self, failures: int) -> float:
        """Exponential backoff with jitter: half the step fixed, half random, so a fleet does not stampede."""
        step = min(self.backoff_max_s, BACKOFF_BASE_S * (2 ** min(failures - 1, 16)))
        return step / 2 + self.rng.uniform(0, step / 2)

    def _failed(self, error: str, refused: int | None = None) -> None:
        with self._lock:
            self._refused_status = refused
            self._failures += 1
            self._backoff_s = self.next_delay(self._failures)
            self._next_try = self.clock() + self._backoff_s
            was = self._link
            self._link, self._last_error = "down", error
        if was != "down":
            log.warning("upload.link_down station=%s error=%s", self.station_id, error)

    def _succeeded(self) -> None:
        with self._lock:
            was = self._link
            self._failures, self._backoff_s, self._next_try = 0, 0.0, 0.0
            self._refused_status = None
            self._link, self._last_success = "up", time.time()
        if was == "down":
            log.info("upload.link_up station=%s", self.station_id)

    def status(self) -> dict[str, Any]:
        depth, oldest = self.store.outbox_depth()
        refused = len(self.store.outbox_refused())
        with self._lock:
            return {"link": self._link, "last_success_at": self._last_success, "last_error": self._last_error,
                    "failures": self._failures, "backoff_s": round(self._backoff_s, 3),
                    "next_attempt_in_s": round(max(0.0, self._next_try - self.clock()), 3),
                    "acked_seq": self._acked_seq, "sent_total": self._sent_total,
                    "outbox_depth": depth, "outbox_oldest_age_s": oldest, "outbox_refused": refused,
                    "last_heartbeat_at": self._last_heartbeat, "heartbeat_error": self._heartbeat_error,
                    "seq_offset": self._offset, "upload_problem": self._problem}

    def set_token(self, token: str) -> None:
        """The station's token was restored or replaced: use it from the next attempt on, which is now."""
        self._http.headers["Authorization"] = f"Bearer {token}"
        with self._lock:
            self._next_try = 0.0
            self._next_heartbeat = 0.0
        self._wake.set()

    def link_status(self) -> UploadLink:
        """The link as the station's health model reads it: refused (4xx) is told apart from unreachable."""
        with self._lock:
            if self._link == "up":
                state = LinkState.UP
            elif self._link == "down":
                state = LinkState.REFUSED if self._refused_status is not None else LinkState.UNREACHABLE
            else:
                state = LinkState.CONNECTING
            return UploadLink(url=self.base, state=state, last_error=self._last_error,
                              http_status=self._refused_status, failures=self._failures,
                              backoff_s=round(self._backoff_s, 3),
                              next_attempt_in_s=round(max(0.0, self._next_try - self.clock()), 3),
                              last_success_at=self._last_success, acked_seq=self._acked_seq,
                              sent_total=self._sent_total, last_heartbeat_at=self._last_heartbeat,
                              heartbeat_error=self._heartbeat_error, recovery=self._recovery_text())

    def _recovery_text(self) -> str | None:
        p = self._problem
        if p is None or time.time() - p["at"] > RECOVERY_SHOWN_S:
            return None
        if p["kind"] == "centre_behind":
            return (f"the centre had lost events it had confirmed (up to seq {p['resent_from_seq'] - 1}; restored "
                    f"from an older backup?): {p['events']} resent from seq {p['resent_from_seq']}")
        return (f"the centre already has seqs up to {p['centre_max_seq']} from this station's earlier install: "
                f"events are now numbered from {p['first_seq_now']} (offset {p['seq_offset']})")

    # background thread ------------------------------------------------------------------------
    def start(self) -> Uploader:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"uploader-{self.station_id}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._http.close()

    def notify(self) -> None:
        """New events were written; look now instead of at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self._step()
            except Exception:  # the uploader must outlive any surprise; the outbox keeps the events
                log.exception("upload.step_failed station=%s", self.station_id)
                self._failed("internal error")
                wait = self._backoff_s
            self._wake.wait(wait)
            self._wake.clear()

    def _step(self) -> float:
        now = self.clock()
        if now < self._next_try:
            return self._next_try - now
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.heartbeat_s
            if not self.heartbeat_once() and self._link == "down":
                return self._backoff_s
        pending = self.store.outbox_pending(self._batch_limit)
        if not pending:
            return min(POLL_S, max(0.0, self._next_heartbeat - now))
        age = max(0.0, self.store.clock() - pending[0].created_at)
        if len(pending) < self._batch_limit and age < self.batch_max_age_s:
            return min(self.batch_max_age_s - age, POLL_S)  # let a fuller batch gather, but not for long
        self._send(pending)
        return self._backoff_s if self._link == "down" else 0.0


def main(argv: list[str] | None = None) -> int:
    """`python -m server_bridge.uploader --store DB --station ID --url URL --token-file F`: drain a station's
    outbox without the rest of the station (staff tools, fault tests)."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m server_bridge.uploader")
    parser.add_argument("--store", required=True)
    parser.add_argument("--station", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--batch-max", type=int, default=500)
    parser.add_argument("--until-empty", action="store_true", help="exit 0 once everything is acknowledged")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    store = Store(args.store)
    uploader = Uploader(store, args.station, args.url, Path(args.token_file).read_text().strip(), dict,
                        batch_max=args.batch_max, batch_max_age_s=0.05, backoff_max_s=2.0).start()
    try:
        while True:
            time.sleep(0.1)
            if args.until_empty and store.outbox_depth()[0] == 0:
                print(json.dumps(uploader.status()), flush=True)
                return 0
    except KeyboardInterrupt:
        return 130
    finally:
        uploader.stop()


if __name__ == "__main__":
    raise SystemExit(main())
