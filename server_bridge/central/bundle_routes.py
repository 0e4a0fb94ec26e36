"""Configuration bundles over HTTP (issue 15, item 6): the station's fetch, and the console's pages.

The model, rollouts and the heartbeat's answer are `bundles`; docs/central.md, "Remote configuration".
"""
from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mallcommon.bundle import MAX_FILES, BundleProblem, bundle_from_json, parse_bundle
from server_bridge.central import i18n
from server_bridge.central.accounts import Operator
from server_bridge.central.bundles import (
    ALL,
    ConfigBundle,
    ConfigStatus,
    ConfigTarget,
    NoConfig,
    config_state,
    roll_out,
    store_bundle,
    wanted_version,
)
from server_bridge.central.dashboard import lang_of, render
from server_bridge.central.db import Database
from server_bridge.central.deps import CentralDep, DbDep, StationDep
from server_bridge.central.errors import NotFound
from server_bridge.central.models import Station
from server_bridge.central.security import OpsUser, Viewer, record

# the station's side --------------------------------------------------------------------------------
router = APIRouter()


@router.get("/api/v1/stations/{station_id}/config", tags=["stations"], responses={304: {"description": "the station has this version"}})
def get_config(station_id: StationDep, central: CentralDep,
               if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The bundle this station should run: `{version, etag, bundle}` with an ETag; 304 when it has it."""
    with central.db.session() as s:
        version = wanted_version(s, station_id)
        row = s.get(ConfigBundle, version) if version is not None else None
        if row is None:
            raise NoConfig("no configuration is rolled out to this station")
        etag, body, created_at = row.etag, row.body, row.created_at
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
    if if_none_match is not None and if_none_match.strip('" ') == etag:
        return Response(status_code=304, headers=headers)
    payload = f'{{"version":{version},"etag":{json.dumps(etag)},"created_at":{created_at},"bundle":{body}}}'
    return Response(payload, media_type="application/json", headers=headers)




# the console ----------------------------------------------------------------------------------------------
WORDS: dict[str, tuple[str, str]] = {
    "config": ("配置与内容", "Configuration"),
    "config.stations": ("各站点配置", "Stations"),
    "config.versions": ("配置版本", "Versions"),
    "config.new": ("新版本", "New version"),
    "config.wanted": ("应运行", "Wanted"),
    "config.applied": ("已应用", "Applied"),
    "config.state": ("状态", "State"),
    "config.state.ok": ("已应用", "applied"),
    "config.state.pending": ("等待站点拉取", "waiting for the station"),
    "config.state.refused": ("被站点拒绝，已回滚", "refused by the station, rolled back"),
    "config.state.none": ("未下发", "nothing rolled out"),
    "config.stage.validation": ("校验", "validation"),
    "config.stage.startup": ("启动", "start-up"),
    "config.stage.fetch": ("下载", "fetch"),
    "config.version": ("版本", "Version"),
    "config.created": ("创建", "Created"),
    "config.by": ("创建人", "By"),
    "config.note": ("说明", "Note"),
    "config.files": ("文件", "Files"),
    "config.roll_out": ("下发", "Roll out"),
    "config.to_all": ("全部站点", "all stations"),
    "config.to_chosen": ("选定站点", "chosen stations"),
    "config.upload": ("上传配置包（JSON）", "Upload a bundle (JSON)"),
    "config.edit": ("在此编辑，以 v{version} 为底稿：", "Edit here, starting from v{version}:"),
    "config.edit_from": ("以此为底稿编辑", "edit from this"),
    "config.save": ("校验并保存为新版本", "Check and save as a new version"),
    "config.stored": ("已保存为版本 {version}。", "Stored as version {version}."),
    "config.rolled": ("版本 {version} 已下发到：{to}。", "Version {version} rolled out to: {to}."),
    "config.refused_upload": ("未保存：{why}", "Not stored: {why}"),
    "config.no_stations": ("请至少选择一个站点。", "Choose at least one station."),
    "config.help": ("配置包包含收费规则与价格、公开明示、商户导览、活动与楼层图、设备参数。站点按心跳获知应运行的版本，"
                    "用与站点相同的规则校验后原子切换；校验或启动失败时自动回滚并报告原因。",
                    "A bundle holds the lending policy and prices, 公开明示, the directory, events and floor maps, "
                    "and device profiles. Stations learn the wanted version on their heartbeat, check it with "
                    "the station's own schemas and switch atomically; a failed check or start-up rolls back "
                    "and reports why."),
}
i18n.WORDS.update(WORDS)
MAX_UPLOAD = 2 * 1024 * 1024


def _config_page(request: Request, db: Database, lang: str | None, status: int = 200, edit_from: int | None = None,
                 edited: dict[str, str] | None = None, **ctx: Any) -> HTMLResponse:
    with db.session() as s:
        versions = s.scalars(select(ConfigBundle).order_by(ConfigBundle.version.desc()).limit(20)).all()
        targets = {t.station_id: t.version for t in s.scalars(select(ConfigTarget))}
        reports = {r.station_id: r for r in s.scalars(select(ConfigStatus))}
        stations = s.execute(select(Station.station_id, Station.last_heartbeat_at).order_by(Station.station_id)).all()
        base = s.get(ConfigBundle, edit_from) if edit_from is not None else None
        base = base or (versions[0] if versions else None)
        files = edited or (json.loads(base.body)["files"] if base is not None else {})  # a refused edit stays
        rows = []
        for sid, beat in stations:
            rows.append({"id": sid, "beat": beat,
                         **config_state(targets.get(sid, targets.get(ALL)), reports.get(sid))})
        summary = [{"version": v.version, "created_at": v.created_at, "by": v.created_by, "note": v.note,
                    "etag": v.etag, "files": len(json.loads(v.body)["files"])} for v in versions]
    return render(request, "config.html", lang_of(request, lang), status, rows=rows, versions=summary,
                  all_version=targets.get(ALL), files=files, edit_from=base.version if base else None, **ctx)


@router.get("/config", response_class=HTMLResponse, include_in_schema=False)
def config_page(request: Request, op: Viewer, db: DbDep, lang: str | None = None,
                stored: int | None = None, rolled: int | None = None, to: str | None = None,
                edit: int | None = None) -> HTMLResponse:
    return _config_page(request, db, lang, edit_from=edit, stored=stored, rolled=rolled, to=(to or "")[:300],
                        refused=None)


@router.post("/config/versions", response_class=HTMLResponse, include_in_schema=False)
async def add_version(request: Request, op: OpsUser, db: DbDep, central: CentralDep,
                      lang: str | None = None) -> Response:
    """A new version from an uploaded bundle file, or from the edited files of the form; checked first."""
    form = await request.form(max_files=1, max_fields=MAX_FILES + 10, max_part_size=MAX_UPLOAD)
    note = str(form.get("note") or "")[:200]
    upload = form.get("bundle")
    files: dict[str, str] | None = None
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(MAX_UPLOAD + 1)
            if len(raw) > MAX_UPLOAD:
                raise BundleProblem("(bundle)", "(file)", f"larger than {MAX_UPLOAD} bytes")
            bundle = bundle_from_json(raw)
        else:
            files = {str(k).removeprefix("file:"): str(v).replace("\r\n", "\n")
                     for k, v in form.multi_items() if str(k).startswith("file:")}
            bundle = parse_bundle(files)
    except BundleProblem as exc:
        return await run_in_threadpool(_refused_upload, request, op, db, lang, exc, files)

    def store(s: Any) -> int:
        row = store_bundle(s, bundle, op.username, note)
        record(request, op, s, "config.stored", f"config:v{row.version}", etag=row.etag, note=note,
               files=len(bundle.files))
        return row.version

    version = await run_in_threadpool(_in_session, db, store)
    return RedirectResponse(f"/config?stored={version}", status_code=303)


def _refused_upload(request: Request, op: Operator, db: Database, lang: str | None, problem: BundleProblem,
                    files: dict[str, str] | None) -> HTMLResponse:
    with db.session() as s:
        record(request, op, s, "config.refused", problem.file, outcome="refused", key=problem.key,
               problem=problem.problem[:300])
    return _config_page(request, db, lang, 422, edited=files, refused=str(problem)[:600], stored=None, rolled=None,
                        to="")


def _in_session(db: Database, fn: Any) -> Any:
    with db.session() as s:
        return fn(s)


@router.post("/config/rollouts", include_in_schema=False)
def add_rollout(request: Request, op: OpsUser, db: DbDep, central: CentralDep,
                version: Annotated[int, Form(ge=1)], target: Annotated[str, Form(pattern="^(all|chosen)$")] = "all",
                stations: Annotated[list[str] | None, Form(max_length=10_000)] = None,
                lang: str | None = None) -> Response:
    chosen = None if target == "all" else sorted({s for s in stations or [] if s})
    if chosen is not None and not chosen:
        return _config_page(request, db, lang, 422, refused=None, stored=None, rolled=None, to="",
                            error="config.no_stations")
    with db.session() as s:
        known = set(s.scalars(select(Station.station_id)))
        if chosen is not None and not set(chosen) <= known:
            raise NotFound(f"unknown stations: {sorted(set(chosen) - known)}")
        roll_out(s, version, chosen, op.username)
        record(request, op, s, "config.rolled_out", f"config:v{version}", to=chosen or "all")
    central.wanted_config.refresh()  # this instance answers at once; others within REFRESH_S
    to = "all" if chosen is None else ",".join(chosen)
    return RedirectResponse(f"/config?rolled={version}&to={to}", status_code=303)


@router.get("/config/versions/{version}.json", include_in_schema=False)
def version_json(op: OpsUser, db: DbDep, version: int) -> Response:
    """A version as a bundle file (to edit offline and upload again)."""
    with db.session() as s:
        row = s.get(ConfigBundle, version)
        if row is None:
            raise NotFound(f"no bundle version {version}")
        body = row.body
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="bundle-v{version}.json"'})
