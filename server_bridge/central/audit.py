"""The audit log: who did what, when, to what, from where, and whether it was allowed.

An entry is written in the same transaction as the action it records (a rolled-back action leaves no
entry); refusals (wrong password, lockout, a ticket owned by someone else, a cross-origin post) are written
on their own. Entries are never updated or deleted by the application.
"""
from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Float, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server_bridge.central.db import Base
from server_bridge.central.models import BigId

# Every kind of action recorded; the audit page filters by these.
ACTIONS = (
    "login", "login_failed", "login_locked", "logout", "password_changed",
    "alert.ack", "alert.resolve",
    "ticket.take", "ticket.reply", "ticket.close",
    "lostfound.handed_over",
    "user.added", "user.password_reset", "user.role_changed", "user.disabled", "user.enabled",
    "export",
    "config.stored", "config.refused", "config.rolled_out",
    "points.refused", "member.lookup_refused",
    "csrf_refused",
    "alert.escalated",
    "command.sent", "command.result", "command.expired",
    "request.ack", "request.announced", "request.found", "request.closed",
    "upload.refused", "upload.accepted", "upload.resent",
)

# What the audit page shows for each action (zh, en): an action without words shows its raw key, and
# tests/unit/central/test_commands.py fails for it.
ACTION_WORDS: dict[str, tuple[str, str]] = {
    "login": ("登录", "Signed in"),
    "login_failed": ("登录失败", "Sign-in failed"),
    "login_locked": ("账户锁定中，登录被拒", "Sign-in refused: account locked"),
    "logout": ("退出登录", "Signed out"),
    "password_changed": ("修改密码", "Changed password"),
    "alert.ack": ("确认告警", "Acknowledged an alert"),
    "alert.resolve": ("解决告警", "Resolved an alert"),
    "alert.escalated": ("告警升级", "Alert escalated"),
    "ticket.take": ("接手工单", "Took a ticket"),
    "ticket.reply": ("回复工单", "Replied to a ticket"),
    "ticket.close": ("关闭工单", "Closed a ticket"),
    "lostfound.handed_over": ("失物已交还", "Handed over a found item"),
    "user.added": ("添加用户", "Added a user"),
    "user.password_reset": ("重置用户密码", "Reset a user's password"),
    "user.role_changed": ("更改用户角色", "Changed a user's role"),
    "user.disabled": ("停用用户", "Disabled a user"),
    "user.enabled": ("启用用户", "Enabled a user"),
    "export": ("导出 CSV", "Exported a CSV"),
    "config.stored": ("保存配置版本", "Stored a configuration bundle"),
    "config.refused": ("配置包被拒（校验未通过）", "Configuration bundle refused (invalid)"),
    "config.rolled_out": ("下发配置版本", "Rolled out a configuration bundle"),
    "points.refused": ("积分变动被拒", "Points change refused"),
    "member.lookup_refused": ("会员查询被拒", "Member look-up refused"),
    "csrf_refused": ("跨站或无令牌请求被拒", "Cross-site or token-less request refused"),
    "command.sent": ("发送远程命令", "Sent a remote command"),
    "command.result": ("远程命令结果", "Remote command result"),
    "command.expired": ("远程命令过期未送达", "Remote command expired undelivered"),
    "request.ack": ("受理广播寻人/寻物", "Took a paging request"),
    "request.announced": ("已广播", "Announced a paging request"),
    "request.found": ("已找到（寻人/寻物）", "Paging request: found"),
    "request.closed": ("关闭广播请求", "Closed a paging request"),
    "upload.refused": ("站点事件被拒收（已隔离保存）", "Station event refused (held in quarantine)"),
    "upload.accepted": ("隔离事件重新发送后已接收", "Quarantined event accepted when resent"),
    "upload.resent": ("站点员工重新发送被拒事件", "Station staff resent refused events"),
}


def action_words() -> dict[str, tuple[str, str]]:
    """`audit.<action>` → (zh, en), for the console's word list."""
    return {f"audit.{action}": words for action, words in ACTION_WORDS.items()}


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("audit_log_at", "at"), Index("audit_log_actor", "actor", "at"),
                      Index("audit_log_action", "action", "at"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))  # a console user, `station:K01`, `staff:S-001@K01`
    role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | refused
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


def record(session: Session, actor: str, action: str, target: str = "", *, role: str = "", ip: str = "",
           outcome: str = "ok", at: float | None = None, **detail: Any) -> AuditEntry:
    entry = AuditEntry(at=time.time() if at is None else at, actor=actor[:64], role=role, action=action,
                       target=target[:120], outcome=outcome, ip=ip[:64],
                       detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else "")
    session.add(entry)
    return entry


def search(session: Session, actor: str | None = None, action: str | None = None, q: str | None = None,
           since: float | None = None, until: float | None = None, limit: int = 200) -> list[AuditEntry]:
    """Newest first. `q` matches the target or detail text."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(AuditEntry.target.like(like, escape="\\") | AuditEntry.detail.like(like, escape="\\"))
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    return list(session.scalars(stmt).all())
