"""Payment flow speed (issue 14): simulated "paid" → the station's door unlock command, and refunds per second.

A real centre process (payments on, SQLite) wired to the simulated WeChat Pay / Alipay gateway; the station's
PaymentsService and LendingService on the in-memory locker link (real firmware; the door command is where we
stop the clock). Each borrow: QR created, the station long-polls the centre, the gateway marks the order paid
and notifies the centre (or the notification is dropped and the centre's query fallback finds it), the station
dispenses. Refunds: one settlement per paid deposit, issued by the centre's worker; baseline = the same number
of refunds sent straight through the provider adapters (no centre) in the same run.
Goals: p99 ≤ 300 ms with the notification, ≤ 1.5 s when it is dropped.

Prints a table and ends with `RESULT {json}`.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from device_profiles import load_profile_as  # noqa: E402
from device_profiles.locker_schema import LockerProfile  # noqa: E402
from drivers.locker.inmemory import InMemoryLockerLink, ManualClock  # noqa: E402
from drivers.payment import make_providers  # noqa: E402
from drivers.payment.gateway import Gateway  # noqa: E402
from kiosk.config import ItemPolicy, Policy  # noqa: E402
from kiosk.services.door import Door  # noqa: E402
from kiosk.services.lending import LendingService  # noqa: E402
from kiosk.services.payments import CentrePayments, PaymentsService  # noqa: E402
from kiosk.store import Store  # noqa: E402
from kiosk.tokens import TokenBook, TokenKeys  # noqa: E402
from server_bridge.central.runner import CentralProcess  # noqa: E402

DEPOSIT = 9900
POLICY = Policy(max_open_per_member_per_type=1, min_dispense_battery=0, items={
    "power_bank": ItemPolicy(free_minutes=10, fee_per_hour_cents=300, daily_cap_cents=2000, loan_hours=24,
                             deposit_cents=DEPOSIT, bought_after_days=7, price_cents=9900)})


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Station:
    def __init__(self, tmp: Path, centre_url: str, token: str) -> None:
        self.clock = ManualClock()
        prof = load_profile_as(ROOT / "device_profiles/lockers/powerbank-12.yaml", LockerProfile)
        self.link = InMemoryLockerLink({"P1": prof}, clock=self.clock, auto_take={"P1": 0.2})
        self.store = Store(tmp / "station.db")
        tokens = TokenBook(TokenKeys(b"bench-payment-site-key-0123456789"), clock=self.clock.wall)
        self.lending = LendingService(store=self.store, lockers=self.link, profiles={"P1": prof}, policy=POLICY,
                                      station_id="K01", tokens=tokens, clock=time.time,
                                      monotonic=self.clock.monotonic,
                                      door=Door(self.link, self.clock.monotonic, self.clock.sleep))
        self.lending.start(handle_returns=False)
        self.pay = PaymentsService(store=self.store, centre=CentrePayments(centre_url, "K01", token),
                                   lending=self.lending, station_id="K01")
        self.command_at: float | None = None
        real = self.link.command

        def command(*a: Any, **kw: Any) -> Any:
            if self.command_at is None:
                self.command_at = time.perf_counter()
            return real(*a, **kw)
        self.link.command = command  # type: ignore[method-assign]

    def put_back(self, item: str) -> None:
        with self.link.events() as events:
            self.link.control("P1", {"op": "insert", "item": item, "battery": 95})
            ev = events.get(timeout=0)
            while ev is not None and ev.type != "item_inserted":
                ev = events.get(timeout=0)
        if ev is None or self.lending.on_locker_event(ev) is None:
            raise RuntimeError(f"the return of {item} was not recorded")


def one_borrow(st: Station, gw: Gateway, provider: str, drop: bool) -> tuple[float, str]:
    order = st.pay.start_borrow("power_bank", provider)
    if drop:
        httpx.post(gw.url + "/_sim/faults", json={"kind": "drop_notification", "provider": provider}).raise_for_status()
    st.command_at = None
    done: dict[str, Any] = {}

    def shopper_side() -> None:
        st.pay.wait_paid(order.station_order_id, 15)
        done["order"] = st.pay.dispense(order.station_order_id)
    t = threading.Thread(target=shopper_side)
    t.start()
    time.sleep(0.05)  # the station is in its long poll, as it would be while the QR is shown
    t0 = time.perf_counter()
    gw.pay(provider, order.order_id or "")
    t.join(30)
    out = done.get("order")
    if out is None or out.state != "reported" or st.command_at is None:
        raise RuntimeError(f"borrow did not complete: {out}")
    latency = st.command_at - t0
    st.put_back(out.item_id or "")
    return latency, out.station_order_id


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--borrows", type=int, default=40, help="per mode (notified / dropped)")
    ap.add_argument("--refunds", type=int, default=80)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        gw = Gateway(tmp / "gateway", notify_retry=(0.2, 0.5, 1.0)).start()
        central = CentralProcess(f"sqlite:///{tmp / 'central.db'}", tmp / "central")
        central.env.update({"CENTRAL_PAYMENTS": str(gw.merchant_file), "CENTRAL_PUBLIC_URL": central.url,
                            "CENTRAL_RECONCILE_EVERY_S": "86400"})
        central.cli("migrate")
        token = central.add_station("K01")
        central.start()
        try:
            st = Station(tmp, central.url, token)
            results: dict[str, list[float]] = {"notified": [], "dropped": []}
            orders: list[str] = []
            for i in range(args.borrows * 2):
                mode = "dropped" if i % 2 else "notified"
                latency, soid = one_borrow(st, gw, "wechat" if i % 4 < 2 else "alipay", mode == "dropped")
                results[mode].append(latency)
                orders.append(soid)
            # refunds through the centre's worker: one settlement per paid deposit
            client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            base = f"{central.url}/api/v1/stations/K01/payments"
            paid = [st.pay.order(s) for s in orders]
            n = min(args.refunds, len(paid))
            t0 = time.perf_counter()
            for o in paid[:n]:
                client.post(base + "/settlements", json={"settle_key": f"bench-{o.station_order_id[-12:]}",
                                                        "order_id": o.order_id, "fee_fen": 300}).raise_for_status()
            posted = time.perf_counter() - t0
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                refunded = sum(1 for t in gw.ledger.snapshot() if t["refunds"])
                if refunded >= n:
                    break
                time.sleep(0.05)
            centre_s = time.perf_counter() - t0
            for o in paid[:n]:  # every job must end succeeded at the centre too
                view = client.get(f"{base}/orders/{o.station_order_id}").json()
                if [r["state"] for r in view["refunds"]] != ["succeeded"]:
                    deadline2 = time.monotonic() + 10
                    while time.monotonic() < deadline2 and [r["state"] for r in client.get(
                            f"{base}/orders/{o.station_order_id}").json()["refunds"]] != ["succeeded"]:
                        time.sleep(0.05)
            # baseline: the same number of refunds straight through the adapters, one after another
            providers = make_providers(str(gw.merchant_file))
            direct = []
            for i in range(n):
                no = f"BASE{i:08d}"
                p = providers["wechat" if i % 2 == 0 else "alipay"]
                p.create_qr(no, DEPOSIT, "baseline", "http://127.0.0.1:9/n")
                gw.pay("wechat" if i % 2 == 0 else "alipay", no)
                direct.append((p, no))
            t1 = time.perf_counter()
            for p, no in direct:
                p.refund(no, no + "R", DEPOSIT - 300, DEPOSIT)
            direct_s = time.perf_counter() - t1
            double = [t for t in gw.ledger.snapshot() if len(t["refunds"]) > 1]
        finally:
            central.stop()
            gw.stop()
    rows = []
    for mode, xs in results.items():
        rows.append((mode, len(xs), statistics.median(xs) * 1000, pct(xs, 99) * 1000, max(xs) * 1000))
    print(f"{'paid → unlock sent':<22}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for mode, cnt, p50, p99, mx in rows:
        print(f"{mode:<22}{cnt:>5}{p50:>10.1f}{p99:>10.1f}{mx:>10.1f}")
    centre_rate = n / centre_s
    direct_rate = n / direct_s
    print(f"\nrefunds: {n} via the centre's worker in {centre_s:.2f} s ({centre_rate:.1f}/s; requests posted in "
          f"{posted:.2f} s); baseline {n} direct adapter refunds in {direct_s:.2f} s ({direct_rate:.1f}/s); "
          f"trades refunded twice: {len(double)}")
    result = {
        "notified_p50_ms": round(rows[0][2], 1), "notified_p99_ms": round(rows[0][3], 1),
        "dropped_p50_ms": round(rows[1][2], 1), "dropped_p99_ms": round(rows[1][3], 1),
        "dropped_over_notified_p50": round(rows[1][2] / rows[0][2], 2),
        "refunds_per_s": round(centre_rate, 1), "direct_refunds_per_s": round(direct_rate, 1),
        "refunds_vs_direct": round(centre_rate / direct_rate, 2), "double_refunds": len(double),
        "goal_notified_p99_ms": 300, "goal_dropped_p99_ms": 1500,
    }
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
