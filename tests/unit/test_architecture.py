"""The rooms' import rules (docs/architecture.md): no import circles and no upward imports.

Two checks, both on the real import graph (grimp, as import-linter builds it; imports under TYPE_CHECKING do
not count): the import-linter contracts in pyproject.toml, and a module-level circle search. Each is also run
on a small made-up project that breaks the rule, so a checker that finds nothing would fail here.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mallcommon", "device_profiles", "drivers", "kiosk", "server_bridge")

# Known circles being removed (intents <-> lending went with services/errors.py, issue 11 item 1).
# The test fails when one of these is gone too, so the list can only shrink: then delete its line.
KNOWN_CIRCLES: set[frozenset[str]] = set()


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def import_circles(*packages: str) -> set[frozenset[str]]:
    """Every set of modules that import each other round in a circle (strongly connected, size > 1)."""
    graph = grimp.build_graph(*packages, cache_dir=None, exclude_type_checking_imports=True)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: set[frozenset[str]] = set()
    counter = 0
    for start in sorted(edges):  # Tarjan, iteratively (no recursion limit on a big graph)
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if i < len(targets):
                work.append((node, i + 1))
                nxt = targets[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                members = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    members.add(m)
                    if m == node:
                        break
                if len(members) > 1:
                    circles.add(frozenset(members))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return circles


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_import_circles_between_modules() -> None:
    circles = import_circles(*PACKAGES)
    new = circles - KNOWN_CIRCLES
    gone = KNOWN_CIRCLES - circles
    assert not new, f"import circles: {[sorted(c) for c in new]}"
    assert not gone, f"these circles are gone, delete them from KNOWN_CIRCLES: {[sorted(c) for c in gone]}"


def _project(tmp_path: Path, name: str, files: dict[str, str], contracts: str = "") -> Path:
    for rel, text in files.items():
        path = tmp_path / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(contracts))
    return tmp_path


def test_the_checks_catch_an_upward_import_and_a_circle(tmp_path: Path) -> None:
    files = {"__init__.py": "", "drivers/__init__.py": "", "kiosk/__init__.py": "",
             "drivers/motor.py": "from archcheck_fake.kiosk import screen\n",  # upward
             "kiosk/screen.py": "from archcheck_fake.kiosk import service\n",
             "kiosk/service.py": "from archcheck_fake.kiosk import screen\n"}  # circle
    contracts = """
        [tool.importlinter]
        root_packages = ["archcheck_fake"]

        [[tool.importlinter.contracts]]
        name = "drivers never import the station"
        type = "forbidden"
        source_modules = ["archcheck_fake.drivers"]
        forbidden_modules = ["archcheck_fake.kiosk"]

        [[tool.importlinter.contracts]]
        name = "no circles"
        type = "acyclic_siblings"
        ancestors = ["archcheck_fake"]
    """
    root = _project(tmp_path, "archcheck_fake", files, contracts)
    result = lint_imports(root)
    assert result.returncode != 0
    assert "2 broken" in result.stdout, result.stdout[-3000:]
    sys.path.insert(0, str(root))
    try:
        assert import_circles("archcheck_fake") == {
            frozenset({"archcheck_fake.kiosk.screen", "archcheck_fake.kiosk.service"})}
    finally:
        sys.path.remove(str(root))
