"""Shared fixtures. Each room's fixtures that start real servers live in tests/fixtures/<room>.py."""
from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.station",
    "tests.fixtures.printer",
    "tests.fixtures.scanner",
    "tests.fixtures.central",
    "tests.fixtures.ui",
    "tests.fixtures.disk",
]

SHM = "/dev/shm"


def pytest_configure(config: pytest.Config) -> None:
    """Test directories (tmp_path) on tmpfs when there is room: the stores and the centre's SQLite run with
    synchronous=FULL, and on a shared disk their fsyncs cost more than anything else some tests do. A test
    kills processes, never the machine, so what a test can observe is the same. PYTEST_DEBUG_TEMPROOT is
    pytest's own setting for this (set it to choose another place); numbered dirs keep parallel runs apart."""
    if os.environ.get("PYTEST_DEBUG_TEMPROOT") or config.option.basetemp:
        return
    try:
        st = os.statvfs(SHM)
    except OSError:
        return
    if os.access(SHM, os.W_OK) and st.f_bavail * st.f_frsize >= 2 << 30:  # a container's 64 MB /dev/shm is not room
        os.environ["PYTEST_DEBUG_TEMPROOT"] = SHM
