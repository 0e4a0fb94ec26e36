"""Core verbs: profiles validation (more land with the lending work)."""
from __future__ import annotations

import argparse
from pathlib import Path

from device_profiles import ProfileError, load_profile, profile_files
from kiosk.cli import emit


def register(verbs: argparse._SubParsersAction, sim_verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("profiles", help="validate device profiles (all of device_profiles/ when no FILE)")
    p.add_argument("files", nargs="*")
    p.set_defaults(func=cmd_profiles)


def cmd_profiles(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files] or profile_files()
    bad = 0
    for f in files:
        try:
            prof = load_profile(f)
            emit({"file": str(f), "kind": getattr(prof, "kind", None), "model": getattr(prof, "model", None),
                  "ok": True, "error": None})
        except ProfileError as exc:
            bad += 1
            emit({"file": str(f), "kind": None, "model": None, "ok": False, "error": str(exc)})
    return 1 if bad else 0
