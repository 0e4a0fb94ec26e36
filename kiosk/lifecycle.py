"""The station's life cycle: start and stop its parts, the housekeeping loop, the health file, its health model.

Two ways to start:
- `wait=True` (tools, tests): connect to the broker now (BrokerRefused if it does not answer) and reconcile
  what a previous run left open before returning — a one-shot verb either works or says why.
- `wait=False` (`run`): never wait for anything outside the process. The locker link connects and reconnects
  in the background with backoff; the lending service reconciles on its own thread once it can; until then,
  and whenever the broker or a locker is gone, `service_states()` marks what needs a locker out of service
  while the screen and the store keep serving the rest.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kiosk import __version__
from kiosk.config import read_secret
from kiosk.services.diagnostics import (
    SERVICE_DESK,
    BrokerHealth,
    CameraHealth,
    DiskHealth,
    LinkState,
    LockerHealth,
    PrinterHealth,
    ServiceState,
    SlotHealth,
    StationHealth,
    outbox_health,
)
from kiosk.store import StoreFull

if TYPE_CHECKING:  # Station holds its Lifecycle; this side only needs the type
    from kiosk.station import Station

log = logging.getLogger(__name__)
TICK_S = 2.0
HEALTH_FILE_EVERY = 5  # ticks
PURGE_EVERY = 30  # ticks: the desk's retention purge (kiosk.services.retention) once a minute
EXIT_RESTART = 75  # the `run` verb's exit status after a remote restart: systemd (Restart=always) starts it again


@runtime_checkable
class ReconnectingLink(Protocol):
    """A locker link that can start without its broker and say how its connection goes (MqttLockerLink)."""

    def start(self, wait: bool = True) -> None: ...

    def link_state(self) -> tuple[str, str | None]: ...


class Lifecycle:
    def __init__(self, station: Station) -> None:
        self.station = station
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        self._starter: threading.Thread | None = None
        self._lending_ready = threading.Event()
        self._token_seen: str | None = None
        self._ticks = 0
        self.restart_requested = threading.Event()  # a remote restart: whoever runs the station stops it

    # start / stop -----------------------------------------------------------------------------
    def start(self, handle_returns: bool = True, background: bool = True, wait: bool = True) -> None:
        st = self.station
        link = st.lockers
        self._token_seen = self._read_token()
        if wait:
            link.start()
            self._start_lending(handle_returns)
        else:
            if isinstance(link, ReconnectingLink):
                link.start(wait=False)
            else:
                link.start()
            self._starter = threading.Thread(target=self._start_lending, args=(handle_returns,),
                                             name="station-start", daemon=True)
            self._starter.start()
        if st.scanning is not None:
            st.scanning.start()
        if st.uploader is not None:
            st.uploader.start()
        if st.applier is not None:
            st.applier.start()
        if st.remote is not None:
            st.remote.start()
        if background:
            self._loop = threading.Thread(target=self._housekeeping, name="station-loop", daemon=True)
            self._loop.start()
        log.info("station.started station=%s site=%s version=%s", st.config.station_id, st.config.site,
                 __version__)

    def _start_lending(self, handle_returns: bool) -> None:
        try:
            self.station.lending.start(handle_returns=handle_returns)
            if self.station.payments is not None:
                self.station.payments.reconcile()  # after the lending's own reconcile: resume or refund
        except Exception:
            if not self._starter:
                raise
            # the station stays up (screen, store, desk); the next ticks reconcile what is left
            log.exception("station.lending_start_failed")
        self._lending_ready.set()

    def request_restart(self) -> None:
        """Leave through the normal stop (store closed, uploads flushed as far as they go) and exit
        EXIT_RESTART; the `run` verb and the UI watch this event."""
        log.warning("station.restart_requested station=%s", self.station.config.station_id)
        self.restart_requested.set()

    @property
    def lending_ready(self) -> bool:
        return self._lending_ready.is_set()

    def _housekeeping(self) -> None:
        ticks = 0
        while not self._stop.wait(TICK_S):
            self.tick()
            ticks += 1
            if ticks % HEALTH_FILE_EVERY == 1:
                self.write_health_file()

    def tick(self) -> None:
        """One pass of periodic work: settle stale intents, bought power banks, queued receipts.

        Each step runs on its own: a full disk (`StoreFull`) or a failure in one is logged and retried on a later
        pass, and the others still run (issue 12: a full disk skipped the receipts and uploads of every pass)."""
        st = self.station
        steps: list[tuple[str, Callable[[], object]]] = []
        if self._lending_ready.is_set():
            steps.append(("lending", st.lending.periodic))
            if st.payments is not None:
                steps.append(("payments", st.payments.periodic))
        if st.printing is not None:
            steps.append(("receipts", st.printing.retry_pending))
        if st.procedures is not None:  # issue 17: the overnight list goes to the centre once per closing
            steps.append(("procedures", st.procedures.list_at_closing))
        if st.retention is not None and self._ticks % PURGE_EVERY == 0:
            steps.append(("retention", st.retention.run))
        steps.append(("token", self.refresh_token))
        self._ticks += 1
        for name, step in steps:
            try:
                step()
            except StoreFull as exc:  # nothing of it was recorded as done: the next pass with room does it
                log.warning("station.tick_deferred step=%s error=%s", name, exc)
            except Exception:
                log.exception("station.tick_failed step=%s", name)

    def _read_token(self) -> str | None:
        central = self.station.config.central
        try:
            return read_secret(central.token_file) if central is not None else None
        except OSError:
            return None

    def refresh_token(self) -> None:
        """A token file restored (or replaced) while the centre refuses us is used without a restart."""
        st = self.station
        if st.uploader is None:
            return
        missing = [p for p in st.faults if p.code == "central_token_missing"]
        if not missing and st.uploader.link_status().state is not LinkState.REFUSED:
            return
        token = self._read_token()
        if token and token != self._token_seen:
            self._token_seen = token
            st.uploader.set_token(token)
            for fault in missing:
                st.faults.remove(fault)
            log.info("station.token_reloaded station=%s", st.config.station_id)

    def stop(self) -> None:
        st = self.station
        self._stop.set()
        if st.applier is not None:
            st.applier.stop()
        if st.remote is not None:
            st.remote.stop()
        if st.uploader is not None:
            st.uploader.stop()
        if st.scanning is not None:
            st.scanning.stop()
        if st.printing is not None:
            st.printing.stop()
        st.lending.stop()
        st.lockers.close()
        if self._loop is not None:
            self._loop.join(timeout=5)
        if self._starter is not None and self._starter.is_alive():
            # still waiting for lockers that never answered: it is a daemon and nothing it does is lost
            # (the store is synchronous=FULL), so a stop does not wait out its timeouts nor close under it
            self._starter.join(timeout=1)
            if self._starter.is_alive():
                log.info("station.stopped_while_starting")
                return
        st.store.close()

    # health -----------------------------------------------------------------------------------
    def write_health_file(self) -> None:
        """What `diag` in another process reads for the parts only this process can see (camera, uploads)."""
        path = self.station.health_file
        try:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.health().as_dict(), default=str))
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError):
            log.exception("station.health_file_failed")

    def broker(self) -> BrokerHealth:
        st = self.station
        link = st.lockers
        if isinstance(link, ReconnectingLink):
            state, detail = link.link_state()
            link_state = LinkState(state)
        else:
            link_state, detail = LinkState.UP, None
        return BrokerHealth(address=f"{st.config.broker.host}:{st.config.broker.port}", state=link_state,
                            detail=detail, stats=link.stats())

    def lockers(self) -> tuple[LockerHealth, ...]:
        st = self.station
        out = []
        for locker_id, prof in st.profiles.items():
            view = st.lockers.view(locker_id)
            slots = tuple(SlotHealth(s.slot, s.state, s.item, s.battery, s.fault, s.left_open)
                          for s in (view.slots if view else ()))
            out.append(LockerHealth(locker_id, prof.item_type, bool(view and view.online), slots,
                                    fw=view.fw if view else None, proto=view.proto if view else None))
        return tuple(out)

    def health(self) -> StationHealth:
        """Device health for heartbeats, diagnostics and the staff screen."""
        st = self.station
        printer = None
        if st.printing is not None:
            try:
                ps = st.printing.status()
                printer = PrinterHealth(ps.online, ps.paper_out, ps.paper_near_end, ps.cover_open)
            except Exception:
                printer = PrinterHealth(online=False)
        camera = None
        if st.scanning is not None:
            cs = st.scanning.status()
            camera = CameraHealth(cs.connected, cs.fps, cs.decode_rate, cs.last_frame_age_s, cs.error)
        now = time.time()
        lockers = self.lockers()
        broker = self.broker()
        return StationHealth(
            ts=now, version=__version__, uptime_s=now - st.started_at, outbox=outbox_health(st.store),
            lockers=lockers, printer=printer, camera=camera, broker=broker,
            central=st.uploader.link_status() if st.uploader is not None else None,
            disk=self._disk(), services=self._services(lockers, broker, printer),
            faults=tuple(st.faults), config_version=st.config_version)

    def _disk(self) -> DiskHealth:
        st = self.station
        disk = shutil.disk_usage(st.config.data_dir)
        room = st.store.room()
        return DiskHealth(disk.free, disk.total, str(st.config.data_dir), None if room.ok else room.words())

    def service_states(self) -> tuple[ServiceState, ...]:
        """What a shopper can use now (cheap: no device is asked; the home screen polls it)."""
        return self._services(self.lockers(), self.broker(), None)

    def _services(self, lockers: tuple[LockerHealth, ...], broker: BrokerHealth,
                  printer: PrinterHealth | None) -> tuple[ServiceState, ...]:
        st = self.station
        starting = not self._lending_ready.is_set() and self._starter is not None

        room = st.store.room()

        def needs_lockers(name: str, item_types: set[str]) -> ServiceState:
            mine = [lk for lk in lockers if lk.item_type in item_types]
            if not room.ok and name != "return":  # a return needs no door opened: it is recorded when there is room
                why = room.words()
            elif not broker.reachable:
                why = f"locker broker {broker.state.value}" + (f" ({broker.detail})" if broker.detail else "")
            elif starting:
                why = "the station is still checking its lockers"
            elif not any(lk.online for lk in mine):
                why = "no locker for it is online: " + ", ".join(lk.locker_id for lk in mine)
            else:
                return ServiceState(name, True)
            return ServiceState(name, False, why, SERVICE_DESK)

        lent: set[str] = {p.item_type for p in st.lending.profiles.values()}
        states = [needs_lockers(f"borrow.{t}", {t}) for t in sorted(lent)]
        if lent:
            states.append(needs_lockers("return", lent))
        if st.storage is not None:
            states.append(needs_lockers("storage", {"storage"}))
        if st.members is not None:
            states += [ServiceState("complaints", True), ServiceState("lostfound", True),
                       ServiceState("members", True)]
            states.append(ServiceState("directory", True) if st.directory is not None else
                          ServiceState("directory", False, "the mall's content files are invalid", SERVICE_DESK))
        if st.scanning is not None:
            cam = st.scanning.status()
            states.append(ServiceState("scanner", True) if cam.connected else ServiceState(
                "scanner", False, f"the camera sends no frames ({cam.error or 'unplugged'})", SERVICE_DESK))
        if st.printing is not None and printer is not None:
            states.append(ServiceState("receipts", printer.online and not printer.paper_out,
                                       None if printer.online else "the receipt printer does not answer"))
        return tuple(states)
