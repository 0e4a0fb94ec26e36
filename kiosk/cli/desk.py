"""Desk verbs: check the mall's content files, find a shop, draw a floor map (no devices, no database); the
service supplies' stock (the station's store only, beside a running station)."""
from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.cli import CliError, emit
from kiosk.content import CONTENT_ROOT, ContentError, MallContent, load_content
from kiosk.services.directory import Directory, UnknownPlace


def register(verbs: argparse._SubParsersAction, sim_verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("content", help="validate the mall's content files (shops, floors, events, 公开明示)")
    p.add_argument("--root", type=Path, default=None, help="folder with shops.yaml … (default: kiosk/content)")
    p.set_defaults(func=cmd_content)
    p = verbs.add_parser("find-shop", help="search shops by Chinese, pinyin initials or English")
    p.add_argument("query")
    p.add_argument("--root", type=Path, default=None)
    p.set_defaults(func=cmd_find)
    p = verbs.add_parser("floor-map", help="draw a floor (PNG or SVG by the file's suffix), a shop highlighted")
    p.add_argument("target", help="a floor (2F) or a shop unit (2F-01)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.add_argument("--root", type=Path, default=None)
    p.set_defaults(func=cmd_map)
    p = verbs.add_parser("supplies", help="service supplies (医药箱、针线包 …): stock per item; --restock fills them up")
    p.add_argument("--restock", metavar="STAFF_ID", default=None, help="restock every item to full, as this staff id")
    p.add_argument("--if-never-counted", action="store_true", help="restock only when no item was ever counted")
    p.set_defaults(func=cmd_supplies)


def _content(root: Path | None) -> MallContent:
    try:
        return load_content(root or CONTENT_ROOT)
    except ContentError as exc:
        raise CliError(str(exc)) from exc


def cmd_content(args: argparse.Namespace) -> int:
    c = _content(args.root)
    emit({"ok": True, "shops": len(c.shops), "floors": [f.floor for f in c.floors], "events": len(c.events),
          "services": len(c.info.services), "prices": len(c.info.prices), "hotlines": len(c.info.hotlines)})
    return 0


def cmd_find(args: argparse.Namespace) -> int:
    hits = Directory(_content(args.root)).search(args.query)
    emit({"query": args.query, "shops": [{"unit": h.shop.unit, "zh": h.shop.zh, "en": h.shop.en,
                                          "floor": h.shop.floor, "category": h.shop.category,
                                          "matched": h.matched} for h in hits]})
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    directory = Directory(_content(args.root))
    floor, unit = (args.target.split("-")[0], args.target) if "-" in args.target else (args.target, None)
    try:
        if args.out.suffix.lower() == ".svg":
            args.out.write_text(directory.map_svg(floor, unit, args.lang), encoding="utf-8")
        else:
            args.out.write_bytes(directory.map_png(floor, unit, args.lang))
    except UnknownPlace as exc:
        raise CliError(str(exc)) from exc
    emit({"ok": True, "floor": floor, "highlight": unit, "out": str(args.out)})
    return 0


def cmd_supplies(args: argparse.Namespace) -> int:
    from device_profiles import ProfileError, load_profile_as
    from device_profiles.supplies_schema import SuppliesProfile
    from kiosk.cli.station import load
    from kiosk.services.supplies import SuppliesDesk
    from kiosk.store import Store

    config = load(args)
    if config.desk.supplies_profile is None:
        raise CliError("no [desk] supplies_profile in the config")
    try:
        profile = load_profile_as(config.desk.supplies_profile, SuppliesProfile)
    except ProfileError as exc:
        raise CliError(str(exc)) from exc
    store = Store(config.db_path)
    try:
        desk = SuppliesDesk(store=store, profile=profile, station_id=config.station_id)
        never = not store.query("SELECT 1 FROM desk_supplies LIMIT 1")
        if args.restock and (never or not args.if_never_counted):
            for supply in desk.stock():
                if supply.stock < supply.full:
                    desk.restock(supply.item, supply.full - supply.stock, args.restock)
        for supply in desk.stock():
            emit({"item": supply.item, "zh": supply.zh, "en": supply.en, "kind": supply.kind, "where": supply.where,
                  "stock": supply.stock, "out": supply.out, "low_at": supply.low_at, "full": supply.full,
                  "low": supply.low})
        emit({"check_due_at": desk.check_due_at(), "check_overdue": desk.check_overdue()})
    finally:
        store.close()
    return 0
