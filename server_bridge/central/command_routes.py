"""Remote commands over HTTP (issue 15.7): the station's bearer-token API and the console's page and form.

The domain (states, expiry, the in-memory board the heartbeat asks) is `commands.py`; docs/central.md
"Remote commands".
"""
from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server_bridge.central import i18n
from server_bridge.central.commands import (
    KINDS,
    CommandList,
    CommandRefused,
    CommandScreenshot,
    Received,
    latest_screenshot_id,
    recent,
)
from server_bridge.central.dashboard import lang_of, render
from server_bridge.central.deps import CommandsDep, DbDep, StationDep
from server_bridge.central.errors import CentralError
from server_bridge.central.models import Station
from server_bridge.central.security import OpsUser, Viewer, record

log = logging.getLogger(__name__)


class NotPng(CentralError):
    code = "not_png"
    status = 422


class NoSuchCommand(CentralError):
    code = "no_such_command"
    status = 404


router = APIRouter()
CommandId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")]
StationPath = Annotated[str, Path(max_length=32)]
EXPIRY_CHOICES_MIN = (2, 10, 30, 60)

WORDS: dict[str, tuple[str, str]] = {
    "commands": ("远程命令", "Remote commands"),
    "send_command": ("发送命令", "Send a command"),
    "cmd.open_slot": ("打开格口（取出卡住的物品）", "Open a slot (stuck item)"),
    "cmd.slot_out": ("格口停用", "Take a slot out of service"),
    "cmd.slot_back": ("格口恢复使用", "Put a slot back in service"),
    "cmd.locker_out": ("整柜停用", "Take a locker out of service"),
    "cmd.locker_back": ("整柜恢复使用", "Put a locker back in service"),
    "cmd.reprint": ("补打最近一张小票", "Reprint the last receipt"),
    "cmd.restart": ("重启站点程序", "Restart the station app"),
    "cmd.resend_refused": ("重新发送被拒收的事件（中心修复后）", "Resend the events the centre refused (after a fix)"),
    "cmd.code.nothing_parked": ("没有被拒收的事件", "no refused events were waiting"),
    "cmd.screenshot": ("屏幕截图", "Take a screenshot"),
    "cmd.state.pending": ("等待站点取走", "waiting for the station"),
    "cmd.state.delivered": ("已发往站点", "sent to the station"),  # rows of the first version
    "cmd.state.received": ("站点已收到", "received by the station"),
    "cmd.state.done": ("已完成", "done"),
    "cmd.state.failed": ("失败", "failed"),
    "cmd.state.refused": ("站点拒绝执行", "refused by the station"),
    "cmd.state.expired": ("已过期，未执行", "expired, not run"),
    "cmd.state.unknown": ("结果未知", "outcome unknown"),
    "cmd.code.shopper_active": ("有顾客正在使用，未截图", "a shopper is using the station: no screenshot"),
    "cmd.code.no_screen": ("站点没有屏幕（无界面运行）", "the station runs without a screen"),
    "cmd.code.slot_busy": ("该格口正在借还中", "the slot is busy with a lending"),
    "cmd.code.unknown_locker": ("站点没有这个柜机", "the station has no such locker"),
    "cmd.code.locker_offline": ("柜机离线", "the locker is offline"),
    "cmd.code.locker_refused": ("柜机拒绝了命令", "the locker refused the command"),
    "cmd.code.no_printer": ("站点没有打印机", "the station has no printer"),
    "cmd.code.nothing_printed": ("还没有打印过小票", "no receipt was printed yet"),
    "cmd.code.not_printed": ("打印机未打出", "the printer did not print it"),
    "cmd.code.expired": ("过期前未送达站点", "not delivered before it expired"),
    "cmd.code.interrupted": ("执行中站点重启，结果未知", "the station restarted while it ran"),
    "cmd.code.upload_refused": ("截图上传被拒", "the screenshot upload was refused"),
    "cmd.error.locker_required": ("请选择柜机", "Choose a locker"),
    "cmd.error.slot_required": ("请填写格口号", "Enter a slot number"),
    "cmd.error.unknown_locker": ("该站点没有这个柜机", "This station has no such locker"),
    "cmd.error.bad_expiry": ("有效期无效", "Invalid expiry"),
    "cmd.error.unknown_kind": ("未知命令", "Unknown command"),
    "cmd.detail.item_id": ("取出物品", "item taken"),
    "cmd.detail.verdict": ("判定", "verdict"),
    "cmd.detail.ack": ("柜机应答", "locker answer"),
    "cmd.detail.slots": ("格口数", "slots"),
    "cmd.detail.bytes": ("字节", "bytes"),
    "cmd.detail.job_id": ("打印任务", "print job"),
    "cmd.detail.printed": ("已打印", "printed"),
    "cmd.detail.restarted": ("已重启", "restarted"),
    "cmd.detail.version": ("版本", "version"),
    "cmd.detail.not_done": ("未完成", "not done"),
    "cmd.detail.expired_at": ("过期于", "expired at"),
    "locker": ("柜机", "Locker"),
    "slot": ("格口", "Slot"),
    "expires": ("有效期", "Expires"),
    "minutes": ("{n} 分钟", "{n} min"),
    "sent_by": ("发送人", "Sent by"),
    "sent_at": ("发送时间", "Sent"),
    "result": ("结果", "Result"),
    "latest_screenshot": ("最新截图", "Latest screenshot"),
    "screenshot_kept": ("截图保留 {n} 分钟后删除", "screenshots are deleted after {n} min"),
    "no_commands": ("还没有命令", "No commands yet"),
    "all_commands": ("全部命令与发送", "All commands, send one"),
}
i18n.WORDS.update(WORDS)


# station API (bearer) ----------------------------------------------------------------------------------------
@router.get("/api/v1/stations/{station_id}/commands", response_model=CommandList, tags=["stations"])
async def station_commands(station_id: StationDep, board: CommandsDep) -> CommandList:
    """The commands waiting for this station and not expired; handed out again until it says `received`."""
    return CommandList.model_validate({"commands": board.fetch(station_id)})


@router.post("/api/v1/stations/{station_id}/commands/received", tags=["stations"])
def station_received(body: Received, station_id: StationDep, board: CommandsDep) -> dict[str, int]:
    """The station wrote these commands to its store: they stop riding on its heartbeat answer."""
    return {"received": board.received(station_id, body.ids)}


@router.put("/api/v1/stations/{station_id}/commands/{command_id}/screenshot", status_code=204, tags=["stations"],
            openapi_extra={"requestBody": {"required": True, "content": {"image/png": {
                "schema": {"type": "string", "format": "binary"}}}}})
async def station_screenshot(request: Request, station_id: StationDep, command_id: CommandId,
                             board: CommandsDep) -> Response:
    """The PNG of a screenshot command (kept briefly, shown on the station's console page)."""
    png = await request.body()
    try:
        kept = await _in_thread(board.store_screenshot, station_id, command_id, png)
    except CommandRefused as exc:
        raise NotPng("the body is not a PNG of at most 4 MiB", field="body") from exc
    if not kept:
        raise NoSuchCommand("no open screenshot command with this id for this station")
    return Response(status_code=204)


async def _in_thread(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


# console ------------------------------------------------------------------------------------------------------
def _station(s: Any, station_id: str) -> Station:
    st = s.get(Station, station_id)
    if st is None:
        raise HTTPException(404, "unknown station")
    return st


def _lockers(st: Station) -> list[dict[str, Any]]:
    return [{"id": lk.get("locker_id"), "slots": len(lk.get("slots", [])), "item_type": lk.get("item_type")}
            for lk in (st.health or {}).get("lockers", [])]


@router.get("/stations/{station_id}/commands", response_class=HTMLResponse, include_in_schema=False)
def commands_page(request: Request, station_id: StationPath, op: Viewer, db: DbDep, board: CommandsDep,
                  lang: str | None = None, error: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    """Every command of the station with its state and result; the form to send one (ops)."""
    with db.session() as s:
        st = _station(s, station_id)
        rows = recent(s, station_id, limit=100)
        shot = latest_screenshot_id(s, station_id)
        lockers = _lockers(st)
    return render(request, "commands.html", lang_of(request, lang), station_id=station_id, rows=rows,
                  kinds=KINDS, lockers=lockers, expiries=EXPIRY_CHOICES_MIN, error=error, shot=shot,
                  keep_min=int(board.keep_screenshots_s // 60))


@router.post("/stations/{station_id}/commands", include_in_schema=False)
def send_command(request: Request, station_id: StationPath, op: OpsUser, db: DbDep, board: CommandsDep,
                 kind: Annotated[str, Form(max_length=20)],
                 locker_id: Annotated[str, Form(max_length=32)] = "",
                 slot: Annotated[str, Form(max_length=6)] = "",
                 expires_s: Annotated[int, Form(ge=1, le=86_400)] = 600) -> RedirectResponse:
    """Ops send a command; audited (`command.sent`) in the same transaction; the actor is the login."""
    back = f"/stations/{station_id}/commands"
    try:
        with db.session() as s:
            st = _station(s, station_id)
            known = {lk["id"] for lk in _lockers(st)}
            if locker_id and known and locker_id not in known:
                raise CommandRefused("unknown_locker")
            row = board.create(s, station_id, kind, op.username, float(expires_s), locker_id or None,
                               int(slot) if slot.strip().isdigit() else None)
            record(request, op, s, "command.sent", f"command:{row.id}", station=station_id, kind=kind,
                   params=json.loads(row.params), expires_s=expires_s)
    except CommandRefused as exc:
        return RedirectResponse(f"{back}?error={exc.code}", status_code=303)
    board.sent(row)
    log.info("commands.sent station=%s kind=%s id=%s by=%s", station_id, kind, row.id, op.username)
    return RedirectResponse(back, status_code=303)


@router.get("/stations/{station_id}/screenshots/{command_id}.png", include_in_schema=False)
def screenshot(station_id: StationPath, command_id: CommandId, op: Viewer, db: DbDep) -> Response:
    with db.session() as s:
        shot = s.get(CommandScreenshot, command_id)
        if shot is None or shot.station_id != station_id:
            raise HTTPException(404, "no such screenshot (deleted after its retention?)")
        png = bytes(shot.png)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

