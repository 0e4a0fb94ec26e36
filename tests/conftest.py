"""Shared fixtures. Each room's fixtures that start real servers live in tests/fixtures/<room>.py."""
pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.station",
    "tests.fixtures.printer",
    "tests.fixtures.scanner",
    "tests.fixtures.central",
    "tests.fixtures.ui",
    "tests.fixtures.disk",
]
