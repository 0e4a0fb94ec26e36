"""Slow and abusive clients against a real central process over real sockets: dribbled headers, a silent
connection, a dribbled body, and more connections than the cap. Each is cut off; normal clients go on."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server_bridge.central.runner import CentralProcess
from tests.fixtures.central import envelope, migrated_sqlite

HEADER_S, BODY_S, MAX_CONN = 1.0, 1.5, 12


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[CentralProcess]:
    proc = CentralProcess(migrated_sqlite(tmp_path / "central.db"), tmp_path / "central", eval_every_s=5.0,
                          extra_args=["--header-timeout", str(HEADER_S), "--body-timeout", str(BODY_S),
                                      "--max-connections", str(MAX_CONN)])
    proc.start()
    yield proc
    proc.stop()


def connect(central: CentralProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", central.port), timeout=10)


def dribble_until_closed(sock: socket.socket, chunks: list[bytes], every_s: float, limit_s: float) -> tuple[float, bytes]:
    """Sends one chunk every `every_s` until the server closes; returns (seconds it stayed open, what it said)."""
    started = time.monotonic()
    sock.settimeout(every_s)
    answer = b""
    for chunk in chunks:
        try:
            sock.sendall(chunk)
        except OSError:
            break
        try:
            data = sock.recv(4096)
        except TimeoutError:
            if time.monotonic() - started > limit_s:
                break
            continue
        except OSError:
            break
        answer += data
        if not data or b"\r\n\r\n" in answer:
            break
    sock.settimeout(2)
    try:
        while data := sock.recv(4096):
            answer += data
    except OSError:
        pass
    return time.monotonic() - started, answer


def test_dribbled_headers_are_cut_off(guarded: CentralProcess) -> None:
    sock = connect(guarded)
    head = b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    chunks = [head] + [b"X-Slow-%d: y\r\n" % i for i in range(200)]
    open_s, answer = dribble_until_closed(sock, chunks, every_s=0.25, limit_s=20)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert HEADER_S - 0.2 < open_s < HEADER_S + 1.5, open_s  # was: open for as long as the client liked
    sock.close()


def test_a_silent_connection_is_closed(guarded: CentralProcess) -> None:
    sock = connect(guarded)
    sock.settimeout(HEADER_S + 3)
    started = time.monotonic()
    answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < HEADER_S + 1.5
    sock.close()


def test_dribbled_body_is_cut_off_and_nothing_is_stored(guarded: CentralProcess) -> None:
    token = guarded.add_station("K01")
    sock = connect(guarded)
    head = (f"POST /api/v1/stations/K01/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n").encode()
    open_s, answer = dribble_until_closed(sock, [head] + [b'{"events": ['] + [b" "] * 200, every_s=0.25, limit_s=20)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert BODY_S - 0.2 < open_s < BODY_S + 1.5, open_s
    sock.close()
    ok = httpx.post(f"{guarded.url}/api/v1/stations/K01/events", headers={"Authorization": f"Bearer {token}"},
                    json={"events": [envelope(1, "survey.rated", {"flow": "borrow", "score": 5, "lang": "en"})]})
    assert ok.json() == {"acked_seq": 1}  # the next honest client is served


def test_connections_past_the_cap_are_refused_and_the_cap_frees_up(guarded: CentralProcess) -> None:
    held = [connect(guarded) for _ in range(MAX_CONN)]
    time.sleep(0.2)
    extra = connect(guarded)
    extra.settimeout(2)
    assert extra.recv(4096).startswith(b"HTTP/1.1 503")
    extra.close()
    time.sleep(HEADER_S + 0.5)  # the silent ones are closed by the header deadline
    for sock in held:
        sock.close()
    with httpx.Client(base_url=guarded.url, timeout=5) as client:  # keep-alive: several requests, one socket
        assert [client.get("/openapi.json").status_code for _ in range(5)] == [200] * 5
