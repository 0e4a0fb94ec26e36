"""Desk UI fixtures: the real central service and storage lockers from the desk's integration fixtures."""
from tests.integration.desk.conftest import central  # noqa: F401  (fixture)
from tests.integration.desk.lockers import lockers  # noqa: F401  (fixture)
