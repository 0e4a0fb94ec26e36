"""Fixtures for the payment room: the simulated gateway on a free loopback port, a notification receiver."""
from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from drivers.payment import PaymentProvider, make_providers
from drivers.payment.gateway import Gateway
from drivers.payment.gateway.ledger import CST
from kiosk.config import load_config
from tests.fixtures.central import migrated_sqlite
from tests.fixtures.station import StationStack, make_stack


@pytest.fixture(scope="session")
def gateway_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys are generated once per session (RSA generation is slow); each gateway copies them."""
    d = tmp_path_factory.mktemp("gateway-keys")
    Gateway(d).httpd.server_close()
    return d


@pytest.fixture
def gateway(tmp_path: Path, gateway_keys_dir: Path) -> Iterator[Gateway]:
    state = tmp_path / "gateway"
    shutil.copytree(gateway_keys_dir, state)
    gw = Gateway(state, notify_retry=(0.1, 0.2, 0.5)).start()
    yield gw
    gw.stop()


@pytest.fixture
def providers(gateway: Gateway) -> dict[str, PaymentProvider]:
    return make_providers(str(gateway.merchant_file), timeout_s=2.0)


class Receiver:
    """A merchant notify endpoint: verifies each notification with the provider adapter, answers like a merchant."""

    def __init__(self, providers: dict[str, PaymentProvider]) -> None:
        self.providers = providers
        self.received: list[tuple[str, Any]] = []
        self.refuse_first: set[str] = set()  # out_trade_nos whose first delivery this merchant refuses
        self.event = threading.Condition()
        receiver = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = self.path.rsplit("/", 1)[-1]
                try:
                    result: Any = receiver.providers[name].verify_notification(dict(self.headers), body)
                except Exception as e:
                    result = e
                with receiver.event:
                    no = getattr(result, "out_trade_no", None)
                    refuse = no in receiver.refuse_first
                    receiver.refuse_first.discard(no)
                    receiver.received.append((name, result))
                    receiver.event.notify_all()
                out = b"fail" if refuse else b"success"
                self.send_response(500 if refuse else 200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/notify/"

    def wait(self, n: int, timeout: float = 5.0) -> list[tuple[str, Any]]:
        with self.event:
            self.event.wait_for(lambda: len(self.received) >= n, timeout)
            return list(self.received)


@pytest.fixture
def receiver(providers: dict[str, PaymentProvider]) -> Iterator[Receiver]:
    r = Receiver(providers)
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


@pytest.fixture
def china_today() -> Callable[[], Any]:
    return lambda: datetime.now(CST).date()


class PayCentre:
    """A real central process with payments on, wired to the gateway; tokens of stations K01 and K02."""

    def __init__(self, proc: Any, gateway: Gateway, tokens: dict[str, str]) -> None:
        self.proc = proc
        self.gateway = gateway
        self.url = proc.url
        self.tokens = tokens

    def api(self, method: str, station: str, path: str, **kw: Any) -> Any:
        import httpx

        return httpx.request(method, f"{self.url}/api/v1/stations/{station}/payments{path}",
                             headers={"Authorization": f"Bearer {self.tokens[station]}"}, timeout=30, **kw)

    def order(self, station: str, station_order_id: str, provider: str = "wechat", amount_fen: int = 9900,
              **extra: Any) -> Any:
        body = {"station_order_id": station_order_id, "provider": provider, "purpose": "deposit",
                "amount_fen": amount_fen, "description": "Power bank deposit", **extra}
        return self.api("POST", station, "/orders", json=body)

    def fault(self, **f: Any) -> None:
        import httpx

        httpx.post(self.gateway.url + "/_sim/faults", json=f).raise_for_status()

    def wait_state(self, station: str, station_order_id: str, states: tuple[str, ...], timeout: float = 10.0) -> Any:
        import time

        deadline = time.monotonic() + timeout
        while True:
            view = self.api("GET", station, f"/orders/{station_order_id}", params={"wait": 1}).json()
            if view["state"] in states or time.monotonic() > deadline:
                return view

    def wait_refunds(self, station: str, station_order_id: str, timeout: float = 10.0) -> Any:
        import time

        deadline = time.monotonic() + timeout
        while True:
            view = self.api("GET", station, f"/orders/{station_order_id}").json()
            if all(r["state"] in ("succeeded", "refused") for r in view["refunds"]) or time.monotonic() > deadline:
                return view
            time.sleep(0.1)


@pytest.fixture
def pay_centre(tmp_path: Path, gateway: Gateway) -> Iterator[PayCentre]:
    from server_bridge.central.runner import CentralProcess

    proc = CentralProcess(migrated_sqlite(tmp_path / "central.db"), tmp_path / "central", eval_every_s=0.5)
    proc.env.update({"CENTRAL_PAYMENTS": str(gateway.merchant_file), "CENTRAL_PUBLIC_URL": proc.url,
                     "CENTRAL_RECONCILE_EVERY_S": "3600"})
    # migrate and register in this process: each CLI subprocess costs seconds on a busy machine
    import time

    from server_bridge.central.db import Database
    from server_bridge.central.fleet import add_station

    db = Database(proc.db_url)
    with db.session() as s:
        tokens = {sid: add_station(s, sid, time.time()) for sid in ("K01", "K02")}
    db.dispose()
    proc.start()
    yield PayCentre(proc, gateway, tokens)
    proc.stop()


DEPOSIT = 9900


@pytest.fixture
def paid_stack(tmp_path: Path, pay_centre) -> Iterator[StationStack]:
    """A station whose power banks take a deposit, configured with the payment centre's URL and its token."""
    from drivers.printer.virtual import VirtualPrinter

    token_file = tmp_path / "K01.token"
    token_file.write_text(pay_centre.tokens["K01"])
    printer = VirtualPrinter(tmp_path / "paper", port=0).start()  # receipts say fee, refund and its reference
    profile = Path(__file__).resolve().parents[3] / "device_profiles/printers/epson-tm-t20ii-cn.yaml"
    stack = make_stack(tmp_path / "stack",
                       extra_toml=f'[central]\nurl = "{pay_centre.url}"\ntoken_file = "{token_file}"\n'
                                  f'[printer]\nprofile = "{profile}"\n'
                                  f'connection = {{ type = "network", host = "127.0.0.1", port = {printer.port} }}\n')
    stack.printer = printer  # type: ignore[attr-defined]
    text = stack.config_path.read_text()
    assert text.count("price_cents = 9900") == 1
    stack.config_path.write_text(text.replace("price_cents = 9900", f"price_cents = 9900\ndeposit_cents = {DEPOSIT}"))
    stack.config = load_config(stack.config_path)
    try:
        yield stack
    finally:
        stack.close()
        printer.stop()
