"""The package's dependency layout (README "Dependencies"): locks up to date, the kiosk's lock free of tools."""
from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TOOLS = {"pytest", "pytest-timeout", "hypothesis", "schemathesis", "selenium", "ruff", "mypy", "import-linter",
         "grimp"}
CENTRAL_ONLY = {"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "jinja2", "wechatpayv3", "python-alipay-sdk"}


def pins(path: str) -> dict[str, str]:
    lines = (ROOT / path).read_text().splitlines()
    return {n.lower().replace("_", "-"): v for n, _, v in (ln.partition("==") for ln in lines if ln and ln[0] != "#")}


def test_the_lock_files_are_what_pyproject_and_the_environment_give() -> None:
    """Fails when a dependency was added to a lock by hand, or to pyproject without `make lock`."""
    out = subprocess.run([sys.executable, str(ROOT / "tools/lock.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_kiosk_lock_has_no_test_lint_or_central_packages() -> None:
    kiosk, central, dev = pins("requirements/kiosk.txt"), pins("requirements/central.txt"), pins("requirements.txt")
    assert "kivy" in kiosk and "paho-mqtt" in kiosk and "python-escpos" in kiosk
    assert not (TOOLS | CENTRAL_ONLY) & set(kiosk), (TOOLS | CENTRAL_ONLY) & set(kiosk)
    assert CENTRAL_ONLY <= set(central) and not TOOLS & set(central)
    assert TOOLS | CENTRAL_ONLY <= set(dev)
    for name, version in kiosk.items():  # one version of everything across the locks
        assert central[name] == version == dev[name], name


def test_the_console_entry_points_name_real_functions() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    assert set(scripts) == {"mall-kiosk", "mall-central"}
    for target in scripts.values():
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr))


def test_the_entry_points_answer_help() -> None:
    for target in PYPROJECT["project"]["scripts"].values():
        module, _, attr = target.partition(":")
        code = f"import sys; from {module} import {attr}; sys.exit({attr}(['--help']))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "KIVY_NO_ARGS": "1", "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0 and "usage:" in out.stdout, out.stderr[-2000:]
