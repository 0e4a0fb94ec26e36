"""`make run`: the whole station on one machine with simulated devices, until Ctrl-C.

Starts a password+ACL Mosquitto, the central service on SQLite (demo stations and members), the
virtual printer, one locker simulator per configured locker, and the station (Kivy UI on the display,
or under Xvfb with screenshots when there is none; `--headless` for no UI at all).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from drivers.locker.broker import Mosquitto, wait_port
from kiosk.bundles import bundle_files
from kiosk.config import StationConfig, load_config
from kiosk.lifecycle import EXIT_RESTART
from mallcommon.bundle import FORMAT

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


class Stack:
    """Child processes started in order and stopped in reverse."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        logs.mkdir(parents=True, exist_ok=True)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        self.procs.append((name, proc))
        return proc

    def check(self) -> str | None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                return name
        return None

    def respawn_restarted(self, name: str, argv: list[str]) -> bool:
        """Start `name` again when it exited with EXIT_RESTART (a remote restart), like kiosk.service does."""
        for i, (n, proc) in enumerate(self.procs):
            if n == name and proc.poll() == EXIT_RESTART:
                print(f"{name} exited for a remote restart; starting it again", flush=True)
                self.procs.pop(i)
                self.spawn(name, argv)
                return True
        return False

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def ensure_secrets(config: StationConfig) -> None:
    key = config.site_key_file
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(secrets.token_hex(32))
        key.chmod(0o600)


def run_cli(*argv: str) -> str:
    out = subprocess.run([PY, *argv], cwd=ROOT, check=True, capture_output=True, text=True)
    return out.stdout.strip()


DEMO_ROLES = ("admin", "ops", "desk", "viewer")


def ensure_demo_users(db: str, var: Path) -> list[tuple[str, str, str]]:
    """One console login per role (`demo-admin` …), each with its own random password kept in
    var/central/demo-logins.txt (0600) so every `make run` can print them. Demo only: a real centre adds
    users with `add-user`, which hands out one-time passwords."""
    from server_bridge.central import accounts
    from server_bridge.central.db import Database

    logins_file = var / "central" / "demo-logins.txt"
    known = dict(line.split(" ", 1) for line in logins_file.read_text().splitlines() if " " in line) \
        if logins_file.exists() else {}
    database = Database(db)
    logins = []
    try:
        with database.session() as s:
            for role in DEMO_ROLES:
                name = f"demo-{role}"
                password = known.get(name) or secrets.token_urlsafe(12)
                if s.get(accounts.ConsoleUser, name) is None:
                    accounts.add_user(s, name, role, time.time())
                if name not in known:
                    accounts.set_password(s, name, password, time.time())
                logins.append((name, role, password))
    finally:
        database.dispose()
    logins_file.write_text("".join(f"{name} {password}\n" for name, _, password in logins))
    logins_file.chmod(0o600)
    return logins


def start_central(stack: Stack, config: StationConfig, var: Path) -> list[tuple[str, str, str]]:
    if config.central is None:
        return []
    db = f"sqlite:///{var / 'central' / 'central.db'}"
    (var / "central").mkdir(parents=True, exist_ok=True)
    run_cli("-m", "server_bridge.central", "seed-demo", "--db", db, "--days", "30")  # a month of history too
    logins = ensure_demo_users(db, var)
    # issue 15.6: the shipped policy, content and profiles are the centre's configuration version 1, rolled out to
    # every station, so the console's /config page starts from what the stations run
    bundle = var / "central" / "bundle-demo.json"
    bundle.write_text(json.dumps({"format": FORMAT, "files": bundle_files(config)}, ensure_ascii=False))
    run_cli("-m", "server_bridge.central", "add-bundle", "--db", db, "--file", str(bundle), "--if-none",
            "--roll-out", "all", "--note", "as shipped (make run)")
    token_file = config.central.token_file
    if token_file is not None and not token_file.exists():
        # a station known to the centre but whose token file is gone gets a fresh token
        token = run_cli("-m", "server_bridge.central", "add-station", "--db", db, "--station", config.station_id,
                        "--rotate")
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(token)
        token_file.chmod(0o600)
    port = int(config.central.url.rsplit(":", 1)[1].split("/")[0])
    merchant = start_payment_gateway(stack, var)
    stack.spawn("central", [PY, "-m", "server_bridge.central", "serve", "--db", db, "--host", "127.0.0.1",
                            "--port", str(port), "--payments", str(merchant)])
    wait_port("127.0.0.1", port, timeout=30)
    return logins


PAY_GATEWAY_PORT = 8790


def start_payment_gateway(stack: Stack, var: Path) -> Path:
    """The simulated WeChat Pay + Alipay gateway (issue 14); its merchant.json is what the centre is given."""
    state = var / "payment-gateway"  # kiosk.cli.payments finds it here for `sim pay`
    stack.spawn("payment-gateway", [PY, "-m", "drivers.payment.gateway", "serve", "--host", "127.0.0.1",
                                    "--port", str(PAY_GATEWAY_PORT), "--state", str(state)])
    wait_port("127.0.0.1", PAY_GATEWAY_PORT, timeout=30)
    return state / "merchant.json"


def start_printer(stack: Stack, config: StationConfig, var: Path) -> Path | None:
    if config.printer is None or config.printer.connection.type != "network":
        return None
    from device_profiles import load_profile_as
    from device_profiles.printer_schema import PrinterProfile

    profile = load_profile_as(config.printer.profile, PrinterProfile)
    out = var / "receipts"
    port = config.printer.connection.port or 9100
    stack.spawn("printer", [PY, "-m", "drivers.printer.virtual", "--port", str(port), "--out", str(out),
                            "--width", str(profile.dots_per_line)])
    wait_port("127.0.0.1", port, timeout=20)
    return out


def start_lockers(stack: Stack, config: StationConfig, auto_take: float) -> None:
    for lk in config.lockers:
        argv = [PY, "-m", "drivers.locker.simulator", "--profile", str(lk.profile), "--site", config.site,
                "--locker", lk.id, "--broker", f"{config.broker.host}:{config.broker.port}", "--fill", lk.sim_fill,
                "--auto-take", str(auto_take)]
        if lk.username and lk.password_file:
            argv += ["--username", lk.username, "--password-file", str(lk.password_file)]
        stack.spawn(f"locker-{lk.id}", argv)


def station_argv(args: argparse.Namespace, var: Path) -> tuple[list[str], str]:
    """The station's command line, and how a person gets to see it."""
    base = [PY, "-m", "kiosk", "--config", str(args.config), "--log-level", "INFO", "run"]
    if args.headless:
        return base + ["--headless"], "headless (no UI)"
    if os.environ.get("DISPLAY"):
        return base + ["--windowed"], f"a window on display {os.environ['DISPLAY']}"
    shots = var / "screenshots"
    return base + ["--windowed", "--screenshot-dir", str(shots)], f"its own Xvfb; screenshots every 5 s in {shots}"


def ensure_staff(config: StationConfig) -> tuple[str, str]:
    """Two demo staff members (PINs 2468 and 1357) so staff mode, a handover and an overnight bag opened under a
    second badge can be tried; returns both badge payloads."""
    from kiosk.services.staff import read_staff_file, write_staff_file
    from kiosk.tokens import TokenBook, TokenKeys

    staff_file = config.data_dir / "staff.toml"
    if not staff_file.exists() or "S-002" not in {e.staff_id for e in read_staff_file(staff_file).staff}:
        staff_file.parent.mkdir(parents=True, exist_ok=True)
        write_staff_file(staff_file, {"S-001": ("Demo", "2468"), "S-002": ("Demo 2", "1357")})
    book = TokenBook(TokenKeys(config.site_key()))
    return book.staff_badge("S-001"), book.staff_badge("S-002")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.devrun")
    parser.add_argument("--config", type=Path, default=ROOT / "station.example.toml")
    parser.add_argument("--headless", action="store_true")
    parser.add_argument("--auto-take", type=float, default=3.0)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    var = ROOT / "var"
    ensure_secrets(config)
    run_cli("-m", "kiosk", "--config", str(args.config), "mqtt-auth", "--out", str(var / "mqtt"),
            "--sim-control")
    stack = Stack(var / "logs")
    broker = Mosquitto(var / "mosquitto", port=config.broker.port, host=config.broker.host,
                       password_file=var / "mqtt" / "passwd", acl_file=var / "mqtt" / "acl")
    try:
        broker.start()
        logins = start_central(stack, config, var)
        receipts = start_printer(stack, config, var)
        start_lockers(stack, config, args.auto_take)
        cmd, seen_at = station_argv(args, var)
        badge, badge2 = ensure_staff(config)
        if config.desk.supplies_profile is not None:  # the desk's supplies start full on a new demo station
            run_cli("-m", "kiosk", "--config", str(args.config), "supplies", "--restock", "S-001", "--if-never-counted")
        stack.spawn("station", cmd)
        cfg = f"--config {args.config}"
        print(f"""
station {config.station_id} is running ({seen_at}); logs in {var / 'logs'}
  broker     mqtt://{broker.address} (password + ACL, anonymous refused)
  central    {config.central.url if config.central else '-'}  (ops console; demo logins below)
{"".join(f"    {name:<12} {password}   ({role})" + chr(10) for name, role, password in logins)}  receipts   {receipts or '-'}  (PNG + TXT per receipt)

borrow from another terminal:
  CODE=$(.venv/bin/python -m kiosk {cfg} sim member-code M10086 | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
  .venv/bin/python -m kiosk {cfg} lend --type umbrella --member-code "$CODE"
  .venv/bin/python -m kiosk {cfg} sim show-qr "$CODE"      # or show it to the simulated camera
  .venv/bin/python -m kiosk {cfg} status
  .venv/bin/python -m kiosk {cfg} lendings --open
pay as a non-member (the first line carries the QR; then pay it from a third terminal):
  .venv/bin/python -m kiosk {cfg} lend --type power_bank --pay wechat      # or --pay alipay
  .venv/bin/python -m kiosk {cfg} sim pay ORDER                             # ORDER = order.station_order_id
  .venv/bin/python -m kiosk {cfg} sim return ITEM --locker P1               # bring it back: deposit − fee refunded
  payments dashboard: {config.central.url if config.central else '-'}/payments   gateway: http://127.0.0.1:{PAY_GATEWAY_PORT}
staff mode: show the badge, then PIN 2468 (Desk duties: supplies, bag-storage procedures, shift handover)
  .venv/bin/python -m kiosk {cfg} sim show-qr {badge}
  a second staff member (handover, overnight bags) shows this badge, then PIN 1357:
  .venv/bin/python -m kiosk {cfg} sim show-qr {badge2}
  .venv/bin/python -m kiosk {cfg} supplies            # stock of the desk's supplies
广播寻人 / 寻物: on the screen, More services → 广播寻人寻物 (staff: diagnostics → Find a person or an item);
  the desk sees it at once at {config.central.url if config.central else '-'}/desk/ops/requests (demo-desk) and
  marks it announced / found / closed; scan its ticket at "Complaint status" to see where it stands
Ctrl-C stops everything.""", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while True:
            time.sleep(1)
            dead = stack.check()
            if dead == "station" and stack.respawn_restarted("station", cmd):
                continue  # a remote restart (exit 75): started again, as systemd's Restart=always does
            if dead:
                print(f"{dead} stopped; see {var / 'logs' / (dead + '.log')}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
