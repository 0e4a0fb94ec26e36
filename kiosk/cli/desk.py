"""Desk verbs: check the mall's content files, find a shop, draw a floor map (no devices, no database)."""
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
