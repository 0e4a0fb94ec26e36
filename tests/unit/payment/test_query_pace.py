"""The centre's query fallback keeps the real providers' pace unless the merchant file points at a simulator."""
from __future__ import annotations

import json
from pathlib import Path

from server_bridge.central.payments.service import (
    REAL_QUERY_EVERY_S,
    SIM_QUERY_EVERY_S,
    Settings,
    uses_real_gateways,
)


def merchant_file(tmp_path: Path, gateway_url: str | None) -> str:
    (tmp_path / "k.pem").write_text("unused here")
    body: dict = {"alipay": {"appid": "2021000000000001", "app_private_key_file": "k.pem",
                             "alipay_public_key_file": "k.pem"}}
    if gateway_url:
        body["gateway_url"] = gateway_url
    path = tmp_path / "merchant.json"
    path.write_text(json.dumps(body))
    return str(path)


def test_real_gateways_are_queried_at_their_documented_pace(tmp_path: Path) -> None:
    real = Settings.for_gateway(uses_real_gateways(merchant_file(tmp_path, None)))
    sim = Settings.for_gateway(uses_real_gateways(merchant_file(tmp_path, "http://127.0.0.1:8790")))
    assert (real.query_after_s, real.query_every_s) == (3.0, REAL_QUERY_EVERY_S)
    assert 2.0 <= real.query_every_s <= 6.0  # WeChat ~2 s, Alipay 3-6 s
    assert (sim.query_after_s, sim.query_every_s) == (0.4, SIM_QUERY_EVERY_S)


def test_environment_overrides_the_pace() -> None:
    s = Settings.for_gateway(True, {"CENTRAL_PAY_QUERY_AFTER_S": "10", "CENTRAL_PAY_QUERY_EVERY_S": "5"})
    assert (s.query_after_s, s.query_every_s) == (10.0, 5.0)
