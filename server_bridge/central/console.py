"""Console pages around the accounts: login, logout, password change, users and roles, the audit log.

`install(app)` mounts the router, the security middleware and the pages shown for a refusal.
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from server_bridge.central import accounts, audit, i18n
from server_bridge.central.accounts import AccountError, Operator
from server_bridge.central.dashboard import MALL_TZ, lang_of, render
from server_bridge.central.db import Database
from server_bridge.central.deps import CentralDep, DbDep
from server_bridge.central.security import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    Admin,
    ConsoleRefusal,
    CsrfRefused,
    LoginRequired,
    NoAccounts,
    PasswordChangeRequired,
    RoleRefused,
    SecurityMiddleware,
    Viewer,
    client_ip,
    operator,
    record,
)

WORDS: dict[str, tuple[str, str]] = {
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "new_password": ("新密码", "New password"),
    "repeat_password": ("再次输入新密码", "New password again"),
    "current_password": ("当前密码", "Current password"),
    "change_password": ("修改密码", "Change password"),
    "must_change": ("首次登录：请设置您自己的密码。", "First login: please set your own password."),
    "password_rules": ("至少 10 个字符，不含用户名。", "At least 10 characters, not containing your user name."),
    "err.bad_login": ("用户名或密码错误。", "Wrong user name or password."),
    "err.locked": ("密码错误次数过多，账户已锁定 15 分钟。", "Too many wrong passwords: the account is locked for 15 minutes."),
    "err.throttled": ("此地址登录失败次数过多，请稍后再试。", "Too many failed logins from this address; try again later."),
    "err.expired_form": ("表单已过期，请重试。", "The form expired; please try again."),
    "err.wrong_password": ("当前密码不正确。", "The current password is not right."),
    "err.weak_password": ("密码太弱：至少 10 个字符，不含用户名。", "Password too weak: at least 10 characters, not containing the user name."),
    "err.same_password": ("新密码不能与当前密码相同。", "The new password must differ from the current one."),
    "err.mismatch": ("两次输入的新密码不一致。", "The two new passwords differ."),
    "err.user_exists": ("该用户已存在。", "That user exists."),
    "err.bad_username": ("用户名为 2–32 个小写字母、数字或 . _ -。", "User names are 2-32 of a-z 0-9 . _ -."),
    "err.self": ("不能更改自己的角色或停用自己。", "You cannot change your own role or disable yourself."),
    "no_accounts": ("控制台尚无账户", "No console accounts yet"),
    "no_accounts_help": ("为安全起见，没有账户时控制台不开放。请在服务器上创建第一个管理员：",
                         "The console stays closed until an account exists. Create the first admin on the server:"),
    "forbidden": ("无权访问", "Not allowed"),
    "forbidden_help": ("您的角色（{role}）不能执行此操作，需要：{needed}。",
                       "Your role ({role}) may not do this; it needs: {needed}."),
    "csrf_refused": ("请求被拒绝（表单来源无效）。请返回页面重试。",
                     "Request refused (the form did not come from this console). Go back and try again."),
    "users": ("用户", "Users"),
    "role": ("角色", "Role"),
    "role.viewer": ("只读", "viewer"),
    "role.desk": ("服务台", "desk"),
    "role.ops": ("运营", "ops"),
    "role.admin": ("管理员", "admin"),
    "add_user": ("添加用户", "Add user"),
    "one_time_password": ("一次性密码（只显示一次，请当面交给用户）：", "One-time password (shown once; hand it over in person):"),
    "reset_password": ("重置密码", "Reset password"),
    "disable": ("停用", "Disable"),
    "enable": ("启用", "Enable"),
    "set_role": ("设置角色", "Set role"),
    "locked_until": ("锁定至", "Locked until"),
    "last_login": ("最近登录", "Last login"),
    "audit": ("审计日志", "Audit log"),
    "when": ("时间", "When"),
    "actor": ("操作人", "Who"),
    "action": ("操作", "Action"),
    "target": ("对象", "Target"),
    "outcome": ("结果", "Outcome"),
    "from": ("来源", "From"),
    "detail": ("详情", "Detail"),
    "search": ("查询", "Search"),
    "all": ("全部", "all"),
    "since": ("起始日期", "Since"),
    "until": ("截止日期", "Until"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "tickets": ("投诉工单", "Tickets"),
    "lostfound": ("失物招领", "Lost & found"),
    "payments": ("收款", "Payments"),
    "rebalance": ("调拨建议", "Rebalancing suggestions"),
    "move_items": ("从 {source} 调 {count} 个{item}到 {target}", "Move {count} × {item} from {source} to {target}"),
    "no_moves": ("暂无调拨建议（没有可由他站补足的缺货）", "No moves: no shortage another station can fill"),
    "disabled_user": ("已停用", "disabled"),
}
i18n.WORDS.update(WORDS)
i18n.WORDS.update(audit.action_words())  # the audit page shows actions in words

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only a path on this site (never `//evil` or a scheme)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) < 300:
        return value
    return "/"


def _login_page(request: Request, lang: str, status: int = 200, error: str | None = None,
                username: str = "", next_: str = "/") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    request.state.login_csrf = token
    response = render(request, "login.html", lang, status=status, error=error, username=username, next=next_)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.url.scheme == "https")
    return response


def _no_accounts(request: Request, lang: str) -> HTMLResponse:
    return render(request, "message.html", lang, status=503, heading="no_accounts", body="no_accounts_help",
                  command="python -m server_bridge.central add-user --db URL --user NAME --role admin")


def _has_users(db: Database) -> bool:
    with db.session() as s:
        return accounts.count_users(s) > 0


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, db: DbDep, lang: str | None = None, next: str | None = None) -> HTMLResponse:  # noqa: A002
    chosen = lang_of(request, lang)
    if not _has_users(db):
        return _no_accounts(request, chosen)
    return _login_page(request, chosen, next_=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, db: DbDep, central: CentralDep, username: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD)] = "",
          csrf: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=300)] = "/",  # noqa: A002
          lang: str | None = None) -> Response:
    chosen = lang_of(request, lang)
    if not _has_users(db):
        return _no_accounts(request, chosen)
    ip, now = client_ip(request), time.time()
    username = username.strip().lower()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not csrf or not secrets.compare_digest(cookie.encode(), csrf.encode()):
        return _login_page(request, chosen, 403, "expired_form", username, _safe_next(next))
    throttle = central.login_throttle
    if throttle.blocked(ip):
        with db.session() as s:
            audit.record(s, username or "-", "login_failed", f"user:{username}", ip=ip, outcome="refused",
                         why="throttled")
        return _login_page(request, chosen, 429, "throttled", username, _safe_next(next))
    failure: AccountError | None = None
    with db.session() as s:
        # A refusal is caught inside the transaction so the failed-login count it raised is kept.
        try:
            user = accounts.authenticate(s, username, password, now)
        except AccountError as exc:
            failure = exc
            action = "login_locked" if exc.code == "locked" else "login_failed"
            audit.record(s, username or "-", action, f"user:{username}", ip=ip, outcome="refused")
        else:
            cookie_value = accounts.start_session(s, user, now, ip)
            audit.record(s, user.username, "login", f"user:{user.username}", role=user.role, ip=ip)
            must_change = user.must_change
    if failure is not None:
        throttle.failed(ip)
        return _login_page(request, chosen, failure.status, failure.code, username, _safe_next(next))
    target = "/account/password" if must_change else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, cookie_value, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https", max_age=int(accounts.SESSION_MAX_S))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, op: Viewer, db: DbDep) -> Response:
    with db.session() as s:
        accounts.end_session(s, request.cookies.get(COOKIE))
        record(request, op, s, "logout", f"user:{op.username}")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, op: Viewer, lang: str | None = None, error: str | None = None,
                  done: bool = False) -> HTMLResponse:
    return render(request, "password.html", lang_of(request, lang), error=error if error in _ERRORS else None,
                  must_change=op.must_change, done=done)


_ERRORS = {"wrong_password", "weak_password", "same_password", "mismatch", "user_exists", "bad_username", "self",
           "bad_role", "unknown_user"}


@router.post("/account/password")
def change_password(request: Request, op: Viewer, db: DbDep, current: Annotated[str, Form(max_length=200)] = "",
                    new: Annotated[str, Form(max_length=200)] = "",
                    again: Annotated[str, Form(max_length=200)] = "") -> Response:
    if new != again:
        return RedirectResponse("/account/password?error=mismatch", status_code=303)
    now = time.time()
    try:
        with db.session() as s:
            accounts.change_password(s, op.username, current, new, now)
            accounts.end_sessions(s, op.username)  # every other browser of this user is logged out
            user = s.get(accounts.ConsoleUser, op.username)
            assert user is not None
            cookie_value = accounts.start_session(s, user, now, client_ip(request))
            record(request, op, s, "password_changed", f"user:{op.username}")
    except AccountError as exc:
        return RedirectResponse(f"/account/password?error={exc.code}", status_code=303)
    response = RedirectResponse("/account/password?done=1", status_code=303)
    response.set_cookie(COOKIE, cookie_value, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https", max_age=int(accounts.SESSION_MAX_S))
    return response


# users and roles (admin) ------------------------------------------------------------------------------
@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, op: Admin, db: DbDep, lang: str | None = None, error: str | None = None) -> HTMLResponse:
    with db.session() as s:
        users = s.scalars(accounts.select_users()).all()
    return render(request, "users.html", lang_of(request, lang), users=users, roles=accounts.ROLES,
                  error=error if error in _ERRORS else None, issued=None, now=time.time())


def _user_action(request: Request, op: Operator, db: Database, fn: Any, action: str, username: str,
                 **detail: Any) -> Response:
    if username == op.username:
        return RedirectResponse("/admin/users?error=self", status_code=303)
    try:
        with db.session() as s:
            fn(s)
            record(request, op, s, action, f"user:{username}", **detail)
    except AccountError as exc:
        return RedirectResponse(f"/admin/users?error={exc.code}", status_code=303)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(request: Request, op: Admin, db: DbDep, username: Annotated[str, Form(max_length=64)] = "",
             role: Annotated[str, Form(max_length=16)] = "viewer", lang: str | None = None) -> Response:
    username = username.strip().lower()
    try:
        with db.session() as s:
            password = accounts.add_user(s, username, role, time.time())
            record(request, op, s, "user.added", f"user:{username}", role_given=role)
    except AccountError as exc:
        return RedirectResponse(f"/admin/users?error={exc.code}", status_code=303)
    return _issued(request, db, lang, username, password)


def _issued(request: Request, db: Database, lang: str | None, username: str, password: str) -> HTMLResponse:
    with db.session() as s:
        users = s.scalars(accounts.select_users()).all()
    response = render(request, "users.html", lang_of(request, lang), users=users, roles=accounts.ROLES, error=None,
                      issued=(username, password), now=time.time())
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/admin/users/{username}/reset", response_class=HTMLResponse)
def reset_user(request: Request, op: Admin, db: DbDep, username: str, lang: str | None = None) -> Response:
    if username == op.username:
        return RedirectResponse("/admin/users?error=self", status_code=303)
    try:
        with db.session() as s:
            user = s.get(accounts.ConsoleUser, username)
            if user is None:
                raise AccountError("unknown_user", "no such user", 404)
            password = accounts.add_user(s, username, user.role, time.time(), reset=True)
            record(request, op, s, "user.password_reset", f"user:{username}")
    except AccountError as exc:
        return RedirectResponse(f"/admin/users?error={exc.code}", status_code=303)
    return _issued(request, db, lang, username, password)


@router.post("/admin/users/{username}/role")
def set_role(request: Request, op: Admin, db: DbDep, username: str, role: Annotated[str, Form(max_length=16)]) -> Response:
    return _user_action(request, op, db, lambda s: accounts.set_role(s, username, role), "user.role_changed", username,
                        role_given=role)


@router.post("/admin/users/{username}/disable")
def disable_user(request: Request, op: Admin, db: DbDep, username: str) -> Response:
    return _user_action(request, op, db, lambda s: accounts.set_disabled(s, username, True), "user.disabled", username)


@router.post("/admin/users/{username}/enable")
def enable_user(request: Request, op: Admin, db: DbDep, username: str) -> Response:
    return _user_action(request, op, db, lambda s: accounts.set_disabled(s, username, False), "user.enabled", username)


# the audit log (admin) ----------------------------------------------------------------------------------
def _day(value: str | None, end: bool = False) -> float | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=MALL_TZ)
    except ValueError:
        return None
    return day.timestamp() + (86_400 if end else 0)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, op: Admin, db: DbDep, lang: str | None = None,
               actor: Annotated[str | None, Query(max_length=64)] = None,
               action: Annotated[str | None, Query(max_length=40)] = None,
               q: Annotated[str | None, Query(max_length=100)] = None,
               since: Annotated[str | None, Query(max_length=10)] = None,
               until: Annotated[str | None, Query(max_length=10)] = None) -> HTMLResponse:
    with db.session() as s:
        rows = audit.search(s, actor or None, action or None, q or None, _day(since), _day(until, end=True))
    return render(request, "audit.html", lang_of(request, lang), rows=rows, actions=audit.ACTIONS,
                  f={"actor": actor or "", "action": action or "", "q": q or "", "since": since or "",
                     "until": until or ""})


# refusals become pages ------------------------------------------------------------------------------------
def _refusal_page(request: Request, exc: Exception) -> Response:
    lang = lang_of(request, None)
    if isinstance(exc, NoAccounts):
        return _no_accounts(request, lang)
    if isinstance(exc, LoginRequired):
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        return render(request, "message.html", lang, status=401, heading="login", body="login", command=None)
    if isinstance(exc, PasswordChangeRequired):
        return RedirectResponse("/account/password", status_code=303)
    if isinstance(exc, RoleRefused):
        request.state.operator = exc.operator
        return render(request, "message.html", lang, status=403, heading="forbidden", body="forbidden_help",
                      command=None, params={"role": exc.operator.role, "needed": exc.needed})
    if isinstance(exc, CsrfRefused):
        return render(request, "message.html", lang, status=403, heading="forbidden", body="csrf_refused",
                      command=None)
    raise exc


def install(app: FastAPI) -> None:
    """The console's login, pages and refusal handling; and the security middleware in front of it all."""
    app.include_router(router)

    async def handler(request: Request, exc: Exception) -> Response:
        return await run_in_threadpool(_refusal_page, request, exc)

    app.add_exception_handler(ConsoleRefusal, handler)
    app.add_middleware(SecurityMiddleware)


__all__ = ["install", "router", "operator"]
