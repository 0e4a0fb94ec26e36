"""Payment providers (WeChat Pay v3, Alipay) behind one protocol, and a gateway simulator. See docs/payments.md."""
from drivers.payment.provider import (
    BillRow,
    InvalidNotification,
    OutcomeUnknown,
    PaymentError,
    PaymentNotice,
    PaymentProvider,
    PaymentRefused,
    QrOrder,
    RefundStatus,
    TradeStatus,
)

__all__ = ["BillRow", "InvalidNotification", "OutcomeUnknown", "PaymentError", "PaymentNotice", "PaymentProvider",
           "PaymentRefused", "QrOrder", "RefundStatus", "TradeStatus", "make_providers"]


def make_providers(merchant_file: str, *, timeout_s: float = 5.0) -> dict[str, PaymentProvider]:
    """The configured providers of a merchant file, by name."""
    from drivers.payment.alipay import AlipayProvider
    from drivers.payment.config import load_merchant
    from drivers.payment.wechat import WechatPayProvider

    cfg = load_merchant(merchant_file)
    out: dict[str, PaymentProvider] = {}
    if cfg.wechat:
        out["wechat"] = WechatPayProvider(cfg, timeout_s=timeout_s)
    if cfg.alipay:
        out["alipay"] = AlipayProvider(cfg, timeout_s=timeout_s)
    return out
