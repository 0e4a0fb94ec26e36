"""Slow and abusive clients: uvicorn's HTTP protocol with read deadlines and a cap on open connections.

uvicorn (0.54, httptools) times out only an idle keep-alive connection *between* requests: a client that
connects and sends nothing, or dribbles a header byte every few seconds, or announces a body and sends it
slowly, holds its socket (and a slot of the app) for as long as it likes. This protocol adds:
- a header deadline from the connection (or the first byte of each next request) to the end of the headers;
- a body deadline from the end of the headers to the end of the body;
- a cap on open connections: one past it is answered 503 and closed at once.
A request that misses a deadline is answered `408 Request Timeout` (when no response has started) and closed.
Without httptools uvicorn would use h11; `make` installs httptools, and `serve` always uses this class.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 1000


def _plain(status: bytes, text: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: "
            + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout_s = HEADER_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S
    max_connections = MAX_CONNECTIONS

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("http.connection_refused open=%d max=%d", len(self.connections), self.max_connections)
            transport.write(_plain(b"503 Service Unavailable", b"too many connections"))
            transport.close()
            return
        self._arm(self.header_timeout_s, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout_s, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout_s, "body")  # disarmed at once by on_message_complete when there is none

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self, what: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.info("http.read_timeout part=%s client=%s", what, self.client)
        cycle: Any = self.cycle
        if cycle is None or not cycle.response_started:
            self.transport.write(_plain(b"408 Request Timeout", b"request not received in time"))
        self.transport.close()


def guarded_protocol(header_timeout_s: float = HEADER_TIMEOUT_S, body_timeout_s: float = BODY_TIMEOUT_S,
                     max_connections: int = MAX_CONNECTIONS) -> type[GuardedHttpToolsProtocol]:
    """The protocol class with these limits, for `uvicorn.run(app, http=…)`."""
    return type("GuardedHttp", (GuardedHttpToolsProtocol,), {
        "header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s, "max_connections": max_connections})
