"""Who is asking, and may they: the console's login as FastAPI dependencies, CSRF, origin checks, headers.

Routes declare what they need with a typed dependency:

    def page(op: Viewer) ...        # any logged-in user
    def take(op: DeskUser) ...      # desk, ops or admin
    def ack(op: OpsUser) ...        # ops or admin
    def users(op: Admin) ...        # admin

Every unsafe request (POST, PUT, PATCH, DELETE) through these dependencies must carry the session's
synchronizer token (form field `csrf` or header `X-CSRF-Token`); in front of that, `SecurityMiddleware`
refuses any unsafe request to a console path whose Origin (or Referer) is another site, and adds the
security headers to every response.
"""
from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
from fastapi import Depends, Request
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from server_bridge.central import accounts, audit
from server_bridge.central.accounts import Operator
from server_bridge.central.db import Database
from server_bridge.central.deps import DbDep

log = logging.getLogger(__name__)
COOKIE = "central_session"
LOGIN_CSRF_COOKIE = "central_login_csrf"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Paths a browser may post to without a console session: the login form (double-submit token) and the
# shopper's ticket page (no credentials, so nothing to forge); the station API uses bearer tokens.
UNAUTHENTICATED_POSTS = ("/login", "/desk/t/")
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]


class ConsoleRefusal(Exception):
    """Raised by the dependencies; `console.install` turns each into a page."""


class NoAccounts(ConsoleRefusal):
    """No user exists yet: the console is closed, not open."""


class LoginRequired(ConsoleRefusal):
    pass


class PasswordChangeRequired(ConsoleRefusal):
    pass


class RoleRefused(ConsoleRefusal):
    def __init__(self, operator: Operator, needed: str) -> None:
        super().__init__(needed)
        self.operator, self.needed = operator, needed


class CsrfRefused(ConsoleRefusal):
    pass


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _load(request: Request, db: Database) -> Operator:
    with db.session() as s:
        op = accounts.resolve_session(s, request.cookies.get(COOKIE), time.time())
        if op is None:
            if accounts.count_users(s) == 0:
                raise NoAccounts()
            raise LoginRequired()
    return op


async def _form_token(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").split(";")[0].strip() in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.form()).get("csrf")
        return value if isinstance(value, str) else ""
    return ""


async def operator(request: Request, db: DbDep) -> Operator:
    """The logged-in user; unsafe methods must also carry the session's CSRF token."""
    cached = getattr(request.state, "operator", None)
    if isinstance(cached, Operator):
        return cached
    op = await run_in_threadpool(_load, request, db)
    if request.method not in SAFE_METHODS:
        token = await _form_token(request)
        if not token or not hmac.compare_digest(token.encode(), op.csrf.encode()):
            await run_in_threadpool(_audit_refusal, request, db, op.username, "missing or wrong CSRF token")
            raise CsrfRefused()
    if op.must_change and request.url.path not in ("/account/password", "/logout"):
        raise PasswordChangeRequired()
    request.state.operator = op
    return op


def require(role: str) -> Callable[..., Awaitable[Operator]]:
    accounts.check_role(role)

    async def dependency(op: Annotated[Operator, Depends(operator)]) -> Operator:
        if not op.may(role):
            raise RoleRefused(op, role)
        return op
    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[Operator, Depends(require("viewer"))]
DeskUser = Annotated[Operator, Depends(require("desk"))]
OpsUser = Annotated[Operator, Depends(require("ops"))]
Admin = Annotated[Operator, Depends(require("admin"))]


def record(request: Request, op: Operator, session: Any, action: str, target: str = "", outcome: str = "ok",
           **detail: Any) -> None:
    """An audit entry for an action by the logged-in user, in the caller's transaction."""
    audit.record(session, op.username, action, target, role=op.role, ip=client_ip(request), outcome=outcome,
                 **detail)


def _audit_refusal(request: Request, db: Database, actor: str, why: str) -> None:
    with db.session() as s:
        audit.record(s, actor, "csrf_refused", f"{request.method} {request.url.path}", ip=client_ip(request),
                     outcome="refused", why=why, origin=request.headers.get("origin", ""))


def csrf_field(request: Request) -> Markup:
    """`{{ csrf_field(request) }}` inside every form of a console page."""
    op = getattr(request.state, "operator", None)
    token = op.csrf if isinstance(op, Operator) else getattr(request.state, "login_csrf", "")
    return Markup(f'<input type="hidden" name="csrf" value="{escape(token)}">')


def current_operator(request: Request) -> Operator | None:
    op = getattr(request.state, "operator", None)
    return op if isinstance(op, Operator) else None


# middleware ---------------------------------------------------------------------------------------------
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _same_origin(headers: dict[bytes, bytes], scheme: str) -> bool | None:
    """True/False when the browser said where the request came from; None when it said nothing."""
    host = headers.get(b"host", b"").decode("latin-1").lower()
    if headers.get(b"sec-fetch-site", b"") == b"cross-site":
        return False
    source = headers.get(b"origin") or headers.get(b"referer")
    if source is None:
        return None
    text = source.decode("latin-1")
    if text == "null":
        return False
    parts = urlsplit(text)
    return parts.netloc.lower() == host and parts.scheme in (scheme, "http", "https")


class SecurityMiddleware:
    """Security headers on every response; unsafe requests to console paths from another origin refused."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if scope["method"] not in SAFE_METHODS and not path.startswith("/api/"):
            headers = dict(scope["headers"])
            if _same_origin(headers, scope.get("scheme", "http")) is False:
                await self._refuse(scope, headers, send)
                return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, scope: dict[str, Any], headers: dict[bytes, bytes], send: Send) -> None:
        client = scope.get("client") or ("", 0)
        origin = (headers.get(b"origin") or headers.get(b"referer") or b"").decode("latin-1")[:200]
        log.warning("console.cross_origin_refused path=%s origin=%s", scope.get("path"), origin)
        central = scope["app"].state.central  # middleware runs outside dependency injection

        def write() -> None:
            with central.db.session() as s:
                audit.record(s, "-", "csrf_refused", f"{scope['method']} {scope.get('path', '')}"[:120],
                             ip=str(client[0]), outcome="refused", why="cross-origin", origin=origin)
        try:
            await anyio.to_thread.run_sync(write)
        except Exception:  # the refusal stands even if it cannot be recorded
            log.exception("audit.write_failed")
        body = b"cross-origin request refused"
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": body})
