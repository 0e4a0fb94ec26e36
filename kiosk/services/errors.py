"""Refusals of the locker services, in one place: what did not happen, and the `code` the UI maps to words.

Every service that opens a door (lending, storage, later payments and staff commands) raises one of these;
none of them imports another service to do so (this module imports nothing of the project).
"""
from __future__ import annotations


class ServiceRefused(Exception):
    """Something a shopper asked for did not happen; `code` is stable, the message is for logs and CLIs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class LendingRefused(ServiceRefused):
    """A borrow or return that did not happen."""

    def __init__(self, code: str, message: str, retry_elsewhere: bool = False) -> None:
        super().__init__(code, message)
        self.retry_elsewhere = retry_elsewhere  # nothing moved: another slot may be tried for this shopper


class StorageRefused(ServiceRefused):
    """A deposit or pickup of bag storage that did not happen."""


__all__ = ["LendingRefused", "ServiceRefused", "StorageRefused"]
