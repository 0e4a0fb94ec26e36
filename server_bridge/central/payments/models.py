"""Tables of the centre's payments: orders (one per QR), refund jobs, reconciliation findings."""
from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server_bridge.central.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class PaymentOrder(Base):
    """One payment QR. `order_id` is the provider's out_trade_no, derived from (station, station_order_id), so a
    repeated create (after a lost answer or a crash) lands on the same row and the same provider order."""
    __tablename__ = "payment_orders"
    __table_args__ = (UniqueConstraint("station_id", "station_order_id", name="payment_orders_station_key"),
                      Index("payment_orders_state", "state", "created_at"),
                      Index("payment_orders_item", "item_id", "state"))
    order_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    station_order_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(10))          # wechat | alipay
    purpose: Mapped[str] = mapped_column(String(12))           # deposit | fee | storage
    amount_fen: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(127))
    item_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lending_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    qr: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # creating: row written, provider not (yet) answered | open: QR shown | paid | closed | failed (refused)
    state: Mapped[str] = mapped_column(String(10))
    transaction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    paid_via: Mapped[str | None] = mapped_column(String(12), nullable=True)   # notification | query
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    paid_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_query_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    settled_at: Mapped[float | None] = mapped_column(Float, nullable=True)     # deposit settled by a return
    settle_key: Mapped[str | None] = mapped_column(String(96), nullable=True, unique=True)
    fee_fen: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RefundJob(Base):
    """A refund to make, durable before the provider is called; `out_refund_no` is the provider's key, so a
    retry after any failure can never refund twice."""
    __tablename__ = "payment_refunds"
    __table_args__ = (UniqueConstraint("order_id", "refund_key", name="payment_refunds_order_key"),
                      Index("payment_refunds_due", "state", "next_attempt_at"))
    out_refund_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(32))
    refund_key: Mapped[str] = mapped_column(String(96))   # the requester's idempotency key
    station_id: Mapped[str] = mapped_column(String(32))   # who asked (the return station may differ)
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(12))  # pending | processing | succeeded | refused
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PaymentMismatch(Base):
    """One difference between the provider's bill and the centre's ledger (each is raised as an alert)."""
    __tablename__ = "payment_mismatches"
    __table_args__ = (UniqueConstraint("provider", "day", "kind", "ref", name="payment_mismatches_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(10))
    day: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(24))  # missing_at_provider | extra_at_provider | amount_differs
    ref: Mapped[str] = mapped_column(String(64))   # out_trade_no or out_refund_no
    station_id: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    found_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
