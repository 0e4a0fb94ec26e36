"""Command line for scripts and staff: JSON on stdout, non-zero exit with a clear message on failure.

Each room registers its verbs from its own module listed in MODULES: `register(verbs, sim_verbs)`
adds subparsers to the top-level verbs and to `sim`; each parser sets `func(args) -> int`.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from typing import Any

MODULES = [
    "kiosk.cli.core",
    "kiosk.cli.station",
    "kiosk.cli.scanner",
    "kiosk.cli.printer",
    "kiosk.cli.desk",
    "kiosk.cli.payments",
    "kiosk.cli.bundle",
    "kiosk.cli.outbox",
]


EX_CONFIG = 78  # sysexits.h: kiosk.service lists it in RestartPreventExitStatus (restarting cannot fix a config)


class CliError(Exception):
    """Printed as {"ok": false, "error": …} with exit code 2."""

    exit_code = 2


class ConfigUnusable(CliError):
    """The config (or a device profile it names) can never work: exit EX_CONFIG, naming the file and key."""

    exit_code = EX_CONFIG


def emit(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str), flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kiosk", description="Mall self-service station")
    parser.add_argument("--config", help="station config (TOML)", default=None)
    parser.add_argument("--log-level", default="WARNING")
    verbs = parser.add_subparsers(dest="verb", required=True)
    sim = verbs.add_parser("sim", help="act out what simulated devices and shoppers do")
    sim_verbs = sim.add_subparsers(dest="sim_verb", required=True)
    for name in MODULES:
        importlib.import_module(name).register(verbs, sim_verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        emit({"ok": False, "error": str(exc)})
        if isinstance(exc, ConfigUnusable):
            print(f"station config unusable: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
