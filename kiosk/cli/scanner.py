"""Scanner verbs: present codes to the running station's simulated camera (`sim show-qr`, `sim hide-qr`, `sim camera`).

The station's SimulatedCamera watches `<data_dir>/simcam/show.json`; these verbs rewrite it atomically.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from drivers.scanner.simcam import write_control
from kiosk.cli import CliError, emit
from kiosk.config import ConfigError, load_config
from kiosk.tokens import TokenBook, TokenKeys

_KNOBS = {"size": float, "tilt": float, "perspective": float, "perspective_axis": float,
          "blur": float, "motion": float, "noise": float, "glare": float, "brightness": float, "cracks": int,
          "jpeg_quality": int, "seed": int}


def register(verbs: argparse._SubParsersAction, sim_verbs: argparse._SubParsersAction) -> None:
    p = sim_verbs.add_parser("show-qr", help="hold a QR code up to the station's simulated camera")
    p.add_argument("payload", nargs="*", help="payload text (two payloads = two codes in view)")
    p.add_argument("--hex", action="store_true", help="payloads are hex bytes (binary / junk codes)")
    p.add_argument("--member", metavar="ID", help="show a fresh, genuine member code for this member")
    p.add_argument("--staff", metavar="ID", help="show a genuine staff badge")
    p.add_argument("--seconds", type=float, default=8.0, help="how long it is held up (0 = until hide-qr)")
    p.add_argument("--holder", choices=["phone", "receipt", "badge"], default=None)
    p.add_argument("--dark", dest="dark_mode", action="store_true", help="dark-mode phone screen")
    for knob, kind in _KNOBS.items():
        p.add_argument(f"--{knob.replace('_', '-')}", dest=knob, type=kind, default=None)
    p.set_defaults(func=cmd_show_qr)

    h = sim_verbs.add_parser("hide-qr", help="take the code away from the simulated camera")
    h.set_defaults(func=cmd_hide_qr)

    c = sim_verbs.add_parser("camera", help="unplug or plug the simulated camera")
    c.add_argument("state", choices=["unplug", "plug"])
    c.set_defaults(func=cmd_camera)


def _control_dir(args: argparse.Namespace) -> Path:
    if not args.config:
        raise CliError("--config FILE is required")
    try:
        return load_config(args.config).data_dir / "simcam"
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def _payloads(args: argparse.Namespace) -> list[bytes]:
    payloads: list[bytes] = []
    for text in args.payload:
        if args.hex:
            try:
                payloads.append(bytes.fromhex(text))
            except ValueError as exc:
                raise CliError(f"not hex: {exc}") from exc
        else:
            payloads.append(text.encode("utf-8"))
    if args.member or args.staff:
        book = TokenBook(TokenKeys(load_config(args.config).site_key()))
        if args.member:
            payloads.append(book.member_code(args.member).encode())
        if args.staff:
            payloads.append(book.staff_badge(args.staff).encode())
    if not payloads:
        raise CliError("give a PAYLOAD, --member ID or --staff ID")
    return payloads


def cmd_show_qr(args: argparse.Namespace) -> int:
    control = _control_dir(args)
    payloads = _payloads(args)
    knobs = {k: getattr(args, k) for k in (*_KNOBS, "holder") if getattr(args, k) is not None}
    if args.dark_mode:
        knobs["dark_mode"] = True
    try:
        path = write_control(control, payloads, seconds=args.seconds or None, **knobs)
    except (ValueError, TypeError) as exc:
        raise CliError(str(exc)) from exc
    # the payload itself is not echoed: it may be a live member code
    emit({"ok": True, "control": str(path), "codes": len(payloads), "seconds": args.seconds or None})
    return 0


def cmd_hide_qr(args: argparse.Namespace) -> int:
    path = write_control(_control_dir(args))
    emit({"ok": True, "control": str(path), "codes": 0})
    return 0


def cmd_camera(args: argparse.Namespace) -> int:
    path = write_control(_control_dir(args), plugged=args.state == "plug")
    emit({"ok": True, "control": str(path), "plugged": args.state == "plug"})
    return 0
