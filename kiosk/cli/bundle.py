"""`bundle export` / `bundle status`: the station's configuration as a bundle, and which version it runs (issue 15.6)."""
from __future__ import annotations

import argparse
import json

from kiosk.bundles import BundleStore, bundle_files
from kiosk.cli import emit
from kiosk.cli.station import load
from mallcommon.bundle import FORMAT, parse_bundle


def register(verbs: argparse._SubParsersAction, sim_verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("bundle", help="configuration bundles: export this station's, or show which it runs")
    which = p.add_subparsers(dest="bundle_verb", required=True)
    which.add_parser("export", help="print this station's policy, content and profiles as a bundle (JSON) "
                                    "for `python -m server_bridge.central add-bundle`").set_defaults(func=cmd_export)
    which.add_parser("status", help="the bundle version this station runs, the one before, the one it refused"
                     ).set_defaults(func=cmd_status)


def cmd_export(args: argparse.Namespace) -> int:
    files = bundle_files(load(args))
    parse_bundle(files)  # what it exports is a bundle the centre will take
    print(json.dumps({"format": FORMAT, "files": files}, ensure_ascii=False))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    config = load(args)
    emit({"ok": True, **BundleStore(config.data_dir).state()})
    return 0
