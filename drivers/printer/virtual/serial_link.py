"""The virtual printer behind a pseudo-terminal, so the station's serial adapter (pyserial) has a real tty to talk to.

Pages end at a cut or, on printers without a cutter, after `idle_tear_s` of silence.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty

from drivers.printer.virtual import FAULTS, VirtualPrinter, status_byte
from drivers.printer.virtual.parser import Cmd, EscposParser

log = logging.getLogger(__name__)


class PtyLink:
    def __init__(self, printer: VirtualPrinter, idle_tear_s: float = 0.5) -> None:
        self.printer = printer
        self.idle_tear_s = idle_tear_s
        self.path = ""
        self._master = self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Open the pty and serve it; returns the device path to configure (e.g. /dev/pts/7)."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: ESC/POS is binary
        self.path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="virtual-printer-pty", daemon=True)
        self._thread.start()
        log.info("virtual_printer.pty path=%s", self.path)
        return self.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def _run(self) -> None:
        parser = EscposParser()
        dirty, last = False, time.monotonic()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                if dirty and time.monotonic() - last > self.idle_tear_s:
                    self.printer.tear_off()
                    dirty = False
                continue
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO while no process has the tty open
                time.sleep(0.05)
                continue
            last = time.monotonic()
            faulted = self.printer.status in FAULTS
            for cmd in parser.feed(data):
                if isinstance(cmd, Cmd) and cmd.name == "DLE EOT":
                    if self.printer.status != "offline":
                        os.write(self._master, status_byte(self.printer.status, cmd.args[0]))
                    continue
                dirty = self.printer.process(cmd, faulted) or dirty
