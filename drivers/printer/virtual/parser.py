"""Incremental ESC/POS stream parser: bytes in, commands out; an unfinished command waits for more bytes.

Commands are skipped by their documented length when the renderer does not draw them; a command we do
not know is reported as `unknown` (prefix + byte) and skipped, never raised.
"""
from __future__ import annotations

from dataclasses import dataclass

NUL, LF, HT, FF, CR, CAN = 0x00, 0x0A, 0x09, 0x0C, 0x0D, 0x18
DLE, ESC, FS, GS = 0x10, 0x1B, 0x1C, 0x1D

# Fixed-length commands: second byte -> number of parameter bytes after it.
ESC_FIXED = {
    "@": 0, "!": 1, "E": 1, "-": 1, "a": 1, "M": 1, "G": 1, "{": 1, "d": 1, "J": 1, "K": 1, "2": 0,
    "3": 1, "A": 1, "+": 1, "t": 1, "R": 1, "p": 3, "V": 1, "U": 1, "S": 0, "L": 0, "T": 1, " ": 1,
    "$": 2, "\\": 2, "=": 1, "r": 1, "i": 0, "m": 0, "e": 1, "B": 2, "?": 1, "%": 1, "u": 1, "v": 0,
    "W": 8, "<": 0, "c": 2, "j": 1, "f": 2, "C": 1, "N": 1, "O": 0, "F": 1, "s": 1, "g": 1,
}
GS_FIXED = {
    "!": 1, "B": 1, "b": 1, "H": 1, "f": 1, "h": 1, "w": 1, "L": 2, "W": 2, "I": 1, "r": 1, "a": 1,
    "P": 2, "|": 1, "$": 2, "\\": 2, "^": 3, ":": 0, "T": 1, "/": 1, "x": 1, "y": 1, "z": 1, "G": 1,
}
FS_FIXED = {"&": 0, ".": 0, "!": 1, "-": 1, "C": 1, "W": 1, "S": 2, "p": 2, "?": 2, "2": 74, "A": 0,
            "k": 1, "g": 1}


@dataclass(frozen=True)
class Cmd:
    """One parsed command: `name` like "ESC a" and its parameter bytes (or data for bulk commands)."""

    name: str
    args: bytes = b""


@dataclass(frozen=True)
class TextRun:
    data: bytes


class Incomplete(Exception):
    """The buffer ends inside a command; wait for more bytes."""


def _need(buf: bytes | bytearray, i: int, n: int) -> None:
    if i + n > len(buf):
        raise Incomplete


def _u16(buf: bytes | bytearray, i: int) -> int:
    return buf[i] | buf[i + 1] << 8


class EscposParser:
    """Feed bytes as they arrive; `feed` returns every complete text run and command."""

    MAX_BUFFER = 4 * 1024 * 1024

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Cmd | TextRun]:
        self.buf += data
        out: list[Cmd | TextRun] = []
        i = 0
        while i < len(self.buf):
            try:
                item, i = self._one(i)
            except Incomplete:
                if len(self.buf) - i > self.MAX_BUFFER:
                    out.append(Cmd("unknown", bytes(self.buf[i:i + 2])))
                    i += 1
                    continue
                break
            if item is not None:
                out.append(item)
        del self.buf[:i]
        return out

    def _one(self, i: int) -> tuple[Cmd | TextRun | None, int]:
        buf = self.buf
        b = buf[i]
        if b >= 0x20:
            j = i
            while j < len(buf) and buf[j] >= 0x20:
                j += 1
            return TextRun(bytes(buf[i:j])), j
        if b == LF:
            return Cmd("LF"), i + 1
        if b in (HT, FF, CR, CAN):
            return Cmd({HT: "HT", FF: "FF", CR: "CR", CAN: "CAN"}[b]), i + 1
        if b == ESC:
            return self._esc(i)
        if b == GS:
            return self._gs(i)
        if b == FS:
            return self._fs(i)
        if b == DLE:
            return self._dle(i)
        return None, i + 1  # NUL, BEL and other single controls print nothing

    def _esc(self, i: int) -> tuple[Cmd, int]:
        buf = self.buf
        _need(buf, i, 2)
        c = chr(buf[i + 1])
        if c == "*":
            _need(buf, i, 5)
            m, n = buf[i + 2], _u16(buf, i + 3)
            size = n * (3 if m in (32, 33) else 1)
            _need(buf, i, 5 + size)
            return Cmd("ESC *", bytes(buf[i + 2:i + 5 + size])), i + 5 + size
        if c == "D":  # tab stops, NUL-terminated
            end = buf.find(b"\x00", i + 2)
            if end < 0:
                raise Incomplete
            return Cmd("ESC D", bytes(buf[i + 2:end])), end + 1
        if c == "(":  # ESC ( A buzzer and friends
            return self._extended(i, "ESC (")
        if c == "&":  # user-defined characters: y c1 c2, then per character x + y*x bytes
            _need(buf, i, 5)
            y, c1, c2 = buf[i + 2], buf[i + 3], buf[i + 4]
            j = i + 5
            for _ in range(max(0, c2 - c1 + 1)):
                _need(buf, j, 1)
                j += 1 + y * buf[j]
                _need(buf, j, 0)
            return Cmd("ESC &"), j
        if c in ESC_FIXED:
            n = ESC_FIXED[c]
            _need(buf, i, 2 + n)
            return Cmd("ESC " + c, bytes(buf[i + 2:i + 2 + n])), i + 2 + n
        return Cmd("unknown", bytes(buf[i:i + 2])), i + 2

    def _gs(self, i: int) -> tuple[Cmd, int]:
        buf = self.buf
        _need(buf, i, 2)
        c = chr(buf[i + 1])
        if c == "v":  # GS v 0 m xL xH yL yH d1…dk
            _need(buf, i, 8)
            w, h = _u16(buf, i + 4), _u16(buf, i + 6)
            _need(buf, i, 8 + w * h)
            return Cmd("GS v0", bytes(buf[i + 3:i + 8 + w * h])), i + 8 + w * h
        if c == "(":  # QR (k), graphics (L), and every other extended function
            return self._extended(i, "GS (")
        if c == "8":  # GS 8 L p1 p2 p3 p4 data: graphics with a 32-bit length
            _need(buf, i, 7)
            n = int.from_bytes(buf[i + 3:i + 7], "little")
            _need(buf, i, 7 + n)
            return Cmd("GS 8" + chr(buf[i + 2]), bytes(buf[i + 7:i + 7 + n])), i + 7 + n
        if c == "k":
            _need(buf, i, 3)
            m = buf[i + 2]
            if m <= 6:
                end = buf.find(b"\x00", i + 3)
                if end < 0:
                    raise Incomplete
                return Cmd("GS k", bytes([m]) + bytes(buf[i + 3:end])), end + 1
            _need(buf, i, 4)
            n = buf[i + 3]
            _need(buf, i, 4 + n)
            return Cmd("GS k", bytes([m]) + bytes(buf[i + 4:i + 4 + n])), i + 4 + n
        if c == "V":
            _need(buf, i, 3)
            m = buf[i + 2]
            n = 1 if m in (65, 66, 97, 98, 103, 104) else 0
            _need(buf, i, 3 + n)
            return Cmd("GS V", bytes(buf[i + 2:i + 3 + n])), i + 3 + n
        if c == "*":  # define downloaded bit image: x y d1…d(x*y*8)
            _need(buf, i, 4)
            n = buf[i + 2] * buf[i + 3] * 8
            _need(buf, i, 4 + n)
            return Cmd("GS *"), i + 4 + n
        if c in GS_FIXED:
            n = GS_FIXED[c]
            _need(buf, i, 2 + n)
            return Cmd("GS " + c, bytes(buf[i + 2:i + 2 + n])), i + 2 + n
        return Cmd("unknown", bytes(buf[i:i + 2])), i + 2

    def _fs(self, i: int) -> tuple[Cmd, int]:
        buf = self.buf
        _need(buf, i, 2)
        c = chr(buf[i + 1])
        if c == "(":
            return self._extended(i, "FS (")
        if c == "q":  # define NV images: n, then per image xL xH yL yH + data
            _need(buf, i, 3)
            j = i + 3
            for _ in range(buf[i + 2]):
                _need(buf, j, 4)
                j += 4 + _u16(buf, j) * _u16(buf, j + 2) * 8
                _need(buf, j, 0)
            return Cmd("FS q"), j
        if c in FS_FIXED:
            n = FS_FIXED[c]
            _need(buf, i, 2 + n)
            return Cmd("FS " + c, bytes(buf[i + 2:i + 2 + n])), i + 2 + n
        return Cmd("unknown", bytes(buf[i:i + 2])), i + 2

    def _extended(self, i: int, prefix: str) -> tuple[Cmd, int]:
        """`prefix fn pL pH data`: the documented length is in pL pH, so any function can be skipped."""
        buf = self.buf
        _need(buf, i, 5)
        n = _u16(buf, i + 3)
        _need(buf, i, 5 + n)
        return Cmd(prefix + chr(buf[i + 2]), bytes(buf[i + 5:i + 5 + n])), i + 5 + n

    def _dle(self, i: int) -> tuple[Cmd, int]:
        buf = self.buf
        _need(buf, i, 3)
        c = buf[i + 1]
        if c == 0x04:  # DLE EOT n (n = 7, 8 take one more byte)
            n = buf[i + 2]
            extra = 1 if n in (7, 8) else 0
            _need(buf, i, 3 + extra)
            return Cmd("DLE EOT", bytes(buf[i + 2:i + 3 + extra])), i + 3 + extra
        if c == 0x05:
            return Cmd("DLE ENQ", bytes(buf[i + 2:i + 3])), i + 3
        if c == 0x14:  # DLE DC4 fn …
            fn = buf[i + 2]
            n = {1: 2, 2: 2, 7: 3, 8: 7}.get(fn, 2)
            _need(buf, i, 3 + n)
            return Cmd("DLE DC4", bytes(buf[i + 2:i + 3 + n])), i + 3 + n
        return Cmd("unknown", bytes(buf[i:i + 2])), i + 2
