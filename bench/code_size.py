"""Largest classes and files (in lines) of kiosk/, drivers/ and server_bridge/, at a git revision or in the
working tree; issue 11 quotes them before and after. Not a speed bench: a table and `RESULT {json}` all the same.

    .venv/bin/python bench/code_size.py [--rev REV] [--top 8]
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kiosk", "drivers", "server_bridge")


def sources(rev: str | None) -> dict[str, str]:
    """path -> text of every .py file under PACKAGES, from `rev` or the working tree."""
    if rev is None:
        return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
                for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", *PACKAGES], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    return {n: subprocess.run(["git", "show", f"{rev}:{n}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout for n in names if n.endswith(".py")}


def measure(files: dict[str, str]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    sizes = sorted(((len(text.splitlines()), path) for path, text in files.items()), reverse=True)
    classes = sorted(((node.end_lineno or node.lineno) - node.lineno + 1, f"{path}:{node.name}")
                     for path, text in files.items() for node in ast.walk(ast.parse(text))
                     if isinstance(node, ast.ClassDef))
    return sizes, classes[::-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rev", default=None, help="a git revision (default: the working tree)")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    files, classes = measure(sources(args.rev))
    print(f"{'lines':>6}  file ({args.rev or 'working tree'})")
    for n, path in files[:args.top]:
        print(f"{n:>6}  {path}")
    print(f"{'lines':>6}  class")
    for n, name in classes[:args.top]:
        print(f"{n:>6}  {name}")
    print("RESULT " + json.dumps({"rev": args.rev, "largest_file": {"path": files[0][1], "lines": files[0][0]},
                                  "largest_class": {"name": classes[0][1], "lines": classes[0][0]},
                                  "files": len(files)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
