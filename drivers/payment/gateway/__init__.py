"""Simulated WeChat Pay v3 + Alipay OpenAPI gateway (product code, like the locker simulator and virtual printer).

`python -m drivers.payment.gateway serve --host 127.0.0.1 --port PORT --state DIR`, or in-process
`Gateway(state_dir).start()`. See docs/payments.md.
"""
from drivers.payment.gateway.server import Gateway

__all__ = ["Gateway"]
