"""Fixtures of the central integration tests (the Chromium driver lives in browsing.py)."""
from tests.integration.central.browsing import browser  # noqa: F401
