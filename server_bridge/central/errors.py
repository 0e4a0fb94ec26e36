"""The centre's errors: a user-safe message, a stable code and the HTTP status the API answers with."""
from __future__ import annotations


class CentralError(Exception):
    code = "central_error"
    status = 500

    def __init__(self, message: str, field: str | None = None, extra: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}  # more keys of the error body (what a client needs to recover)


class Unauthorized(CentralError):
    code = "unauthorized"
    status = 401


class Forbidden(CentralError):
    code = "wrong_station"
    status = 403


class NotFound(CentralError):
    code = "not_found"
    status = 404


class EventInvalid(CentralError):
    code = "event_invalid"
    status = 422


class TooLarge(CentralError):
    code = "body_too_large"
    status = 413


class StationExists(CentralError):
    code = "station_exists"
    status = 409


class SeqReused(CentralError):
    """A seq the centre has, sent with another event id: a re-imaged station numbering from 1 again. Refused
    (never acked: the new event would be lost); the body says where the centre's sequence ends."""
    code = "seq_reused"
    status = 409
