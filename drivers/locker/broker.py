"""Runs a local Mosquitto broker on a loopback port (make run, tests, benches)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from drivers.locker.models import MAX_PAYLOAD
from mallcommon.net import free_port  # also imported from here by tests and runners

# No message bigger than the protocol allows is ever forwarded: the broker drops a larger payload, and a
# packet much larger than that (a 20 MiB "state" from a stolen locker login) closes the sender's connection
# before the broker reads it all. The same lines go into the site broker's config (docs/deploy.md).
BROKER_LIMITS = (
    f"message_size_limit {MAX_PAYLOAD}",
    f"max_packet_size {MAX_PAYLOAD + 1024}",  # payload + topic + header
)


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class Mosquitto:
    """One mosquitto process; anonymous unless a password file is given (then ACL-confined)."""

    def __init__(self, workdir: Path, port: int | None = None, host: str = "127.0.0.1",
                 password_file: Path | None = None, acl_file: Path | None = None, limits: bool = True) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port or free_port(host)
        self.password_file = password_file
        self.acl_file = acl_file
        self.limits = limits  # False only to test what the station does on a broker configured without them
        self.proc: subprocess.Popen[bytes] | None = None

    def config_text(self) -> str:
        lines = [
            f"listener {self.port} {self.host}",
            "persistence false",
            f"log_dest file {self.workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "max_inflight_messages 100",
            "max_queued_messages 10000",
            # without it, Nagle + delayed ACK add ~40 ms to each small QoS 1 hop (bench/locker_rtt.py)
            "set_tcp_nodelay true",
            *(BROKER_LIMITS if self.limits else ()),
        ]
        if os.geteuid() == 0:
            # started as root, mosquitto drops to user `mosquitto`, which cannot read a password file in a
            # private (0700) work or temp dir; this broker only ever listens on loopback for dev and tests
            lines.append("user root")
        if self.password_file:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
            if self.acl_file:
                lines.append(f"acl_file {self.acl_file}")
        else:
            lines.append("allow_anonymous true")
        return "\n".join(lines) + "\n"

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.host, self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
