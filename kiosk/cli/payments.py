"""Payment verbs (issue 14): `lend --pay wechat|alipay` (in kiosk.cli.station) runs `cmd_lend_paid`;
`payments` lists the station's payment orders; `sim pay ORDER` is the shopper's phone paying a QR and
`sim return ITEM --locker ID` the shopper's hand putting an item back into a simulated locker (demo)."""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

import httpx

from kiosk.cli import CliError, ConfigUnusable, emit
from kiosk.services.errors import ServiceRefused
from kiosk.services.payments import PaymentUnavailable
from kiosk.station import Station
from kiosk.store import Store

DEFAULT_GATEWAY_STATE = Path("var/payment-gateway")  # where `make run` keeps the simulated gateway
DEFAULT_CREDS = Path("var/mqtt/creds")  # `make run`'s broker users (mqtt-auth --sim-control)
GATEWAY_ENV = "MALL_PAY_GATEWAY"


def register(verbs: argparse._SubParsersAction, sim_verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("payments", help="the station's payment orders (JSON lines)")
    p.set_defaults(func=cmd_payments)
    p = sim_verbs.add_parser("pay", help="pay a payment QR as the shopper's phone would (simulated gateway)")
    p.add_argument("order", help="station_order_id (from `lend --pay`) or the order_id itself")
    p.add_argument("--gateway", default=None,
                   help=f"gateway URL (default ${GATEWAY_ENV}, else {DEFAULT_GATEWAY_STATE}/merchant.json)")
    p.set_defaults(func=cmd_sim_pay)
    p = sim_verbs.add_parser("return", help="put an item back into a simulated locker, as the shopper's hand (demo)")
    p.add_argument("item", help="the item id, e.g. P-P1-03 (see `lendings --open`)")
    p.add_argument("--locker", required=True, help="the locker it goes into (any station's, e.g. P1)")
    p.add_argument("--slot", type=int, default=None, help="default: the first empty slot")
    p.add_argument("--battery", type=int, default=90, help="charge of a returned power bank")
    p.add_argument("--creds", type=Path, default=DEFAULT_CREDS, help="dir with sim-control.pw (mqtt-auth --out)")
    p.set_defaults(func=cmd_sim_return)


def _store(args: argparse.Namespace) -> Store:
    from device_profiles import ProfileError
    from kiosk.config import load_config

    if not args.config:
        raise ConfigUnusable("--config FILE is required")
    try:
        return Store(load_config(args.config).db_path)
    except ProfileError as exc:
        raise ConfigUnusable(str(exc)) from exc


def cmd_payments(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        for r in store.query("SELECT * FROM pay_orders ORDER BY created_at") if _has_table(store) else []:
            emit(dict(r))
    finally:
        store.close()
    return 0


def _has_table(store: Store) -> bool:
    return bool(store.query("SELECT 1 FROM sqlite_master WHERE name = 'pay_orders'"))


def gateway_url(explicit: str | None) -> str:
    url = explicit or os.environ.get(GATEWAY_ENV)
    if url:
        return url.rstrip("/")
    merchant = DEFAULT_GATEWAY_STATE / "merchant.json"
    try:
        return str(json.loads(merchant.read_text())["gateway_url"]).rstrip("/")
    except (OSError, ValueError, KeyError) as e:
        raise CliError(f"no gateway: pass --gateway URL or set {GATEWAY_ENV} ({merchant}: {e})") from e


def cmd_sim_pay(args: argparse.Namespace) -> int:
    provider, order_id = None, args.order
    if args.config:
        store = _store(args)
        try:
            rows = store.query("SELECT provider, order_id FROM pay_orders WHERE station_order_id = ? OR order_id = ?",
                               (args.order, args.order)) if _has_table(store) else []
        finally:
            store.close()
        if rows:
            provider, order_id = rows[0]["provider"], rows[0]["order_id"]
    url = gateway_url(args.gateway)
    for name in [provider] if provider else ["wechat", "alipay"]:
        r = httpx.post(f"{url}/_sim/{name}/{order_id}/pay", timeout=10)
        if r.status_code != 404 or provider:
            emit({"ok": r.status_code == 200, **r.json()})
            return 0 if r.status_code == 200 else 1
    emit({"ok": False, "error": "no such order at the gateway", "order": order_id})
    return 1


def cmd_sim_return(args: argparse.Namespace) -> int:
    """Publish an `insert` on the locker simulator's control topic (the simulators of `make run` listen there)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from drivers.locker.acl import SIM_CONTROL_USER
    from drivers.locker.models import control_topic
    from kiosk.config import load_config

    if not args.config:
        raise ConfigUnusable("--config FILE is required")
    config = load_config(args.config)
    try:
        password = (args.creds / f"{SIM_CONTROL_USER}.pw").read_text().strip()
    except OSError as e:
        raise CliError(f"no simulator control password in {args.creds} (make run writes it): {e.strerror}") from e
    msg: dict[str, object] = {"op": "insert", "item": args.item, "battery": args.battery}
    if args.slot is not None:
        msg["slot"] = args.slot
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-return-{os.getpid()}")
    client.username_pw_set(SIM_CONTROL_USER, password)
    try:
        client.connect(config.broker.host, config.broker.port)
    except OSError as e:
        raise CliError(f"broker {config.broker.host}:{config.broker.port} not reachable: {e}") from e
    client.loop_start()
    try:
        info = client.publish(control_topic(config.site, args.locker), json.dumps(msg), qos=1)
        info.wait_for_publish(5)
        ok = info.is_published()
    finally:
        client.loop_stop()
        client.disconnect()
    emit({"ok": ok, "locker": args.locker, **msg})
    return 0 if ok else 1


def refuse_owed_fees(station: Station) -> None:
    """Attach the payment service when the station takes payments, so a member who owes a fee here is refused."""
    from kiosk.bootstrap import build_payments, read_secret

    central = station.config.central
    try:
        token = read_secret(central.token_file) if central is not None else None
    except OSError:
        return
    if central is not None and token:
        station.payments = build_payments(station, central.url, token)


def lend_paid(station: Station, args: argparse.Namespace) -> int:
    """Non-member borrow: first line = the order with its QR; then waits for payment, opens the door."""
    from kiosk.bootstrap import build_payments, read_secret

    try:
        central = station.config.central
        token = read_secret(central.token_file) if central is not None else None
        if central is None or not token:
            raise CliError("paying needs [central] url and token_file in the station config")
        payments = build_payments(station, central.url, token)
        station.start(handle_returns=False, background=False)
        try:
            order = payments.start_borrow(args.type, args.pay)
        except (ServiceRefused, PaymentUnavailable) as exc:
            emit({"ok": False, "error": exc.code, "message": str(exc)})
            return 1
        qr_key = "code_url" if args.pay == "wechat" else "qr_code"
        emit({"ok": True, "stage": "pay", "order": asdict(order), qr_key: order.qr, "amount_fen": order.amount_fen,
              "hint": f"python -m kiosk --config {args.config} sim pay {order.station_order_id}"})
        order = payments.wait_paid(order.station_order_id, args.pay_timeout)
        if order.state != "paid":
            order = payments.cancel(order.station_order_id) if order.state == "open" else order
            emit({"ok": False, "stage": "not_paid", "order": asdict(order)})
            return 1
        emit({"ok": True, "stage": "paid", "order": asdict(order)})
        order = payments.dispense(order.station_order_id)
        ok = order.state in ("dispensed", "reported")
        emit({"ok": ok, "stage": "dispensed" if ok else order.state, "order": asdict(order)})
        return 0 if ok else 1
    finally:
        station.stop()
