"""Synthetic camera scenes: a phone, badge or receipt showing QR codes, held up to the station camera.

Deterministic for a given seed, so tests, benches and `make run` see the same frames every run.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np
import qrcode
from PIL import Image, ImageDraw, ImageFont

Holder = Literal["phone", "receipt", "badge"]
_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_PX_PER_MODULE = 6  # object-space resolution; the warp scales it to the requested size


@dataclass(frozen=True)
class Scene:
    """What the camera sees. Sizes are fractions of the frame height; angles in degrees."""

    payloads: tuple[bytes, ...] = ()
    holder: Holder = "phone"
    size: float = 0.35  # side of each QR code (quiet zone excluded) / frame height
    center: tuple[float, float] = (0.5, 0.5)  # of the first code, as fractions of width/height
    tilt: float = 0.0  # in-plane rotation
    perspective: float = 0.0  # 0 = facing the camera, 0.5 = strongly tilted away
    perspective_axis: float = 0.0  # direction the plane tilts towards
    blur: float = 0.0  # gaussian sigma in pixels at the frame's scale
    motion: float = 0.0  # motion-blur streak length in pixels
    noise: float = 0.0  # sensor noise std (0–255 scale)
    glare: float = 0.0  # 0..1 strength of a specular highlight over the code
    dark_mode: bool = False  # light modules on a dark screen
    brightness: float = 1.0  # exposure; < 1 is a dim corner of the mall
    cracks: int = 0  # crack lines across a phone screen
    jpeg_quality: int = 0  # 0 = raw frame; otherwise MJPEG-like compression
    seed: int = 0

    def with_payloads(self, *payloads: str | bytes) -> Scene:
        return replace(self, payloads=tuple(p.encode() if isinstance(p, str) else p for p in payloads))


@functools.lru_cache(maxsize=64)
def qr_modules(payload: bytes, ec: str = "M") -> np.ndarray:
    """The QR matrix with a 4-module quiet zone: 1 = dark module."""
    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    qr = qrcode.QRCode(border=4, error_correction=levels[ec])
    qr.add_data(payload)
    qr.make(fit=True)
    return np.array(qr.get_matrix(), dtype=np.uint8)


@functools.lru_cache(maxsize=8)
def background(width: int, height: int, seed: int) -> np.ndarray:
    """A mall-ish backdrop: a lit gradient with shop-front blocks; no code-like texture."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    base = 120 + 60 * (1 - y) + 20 * np.sin(x * 3 + seed)
    img = np.repeat(base[:, :, None], 3, axis=2) * np.array([1.0, 0.97, 0.92], np.float32)
    for _ in range(8):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(width // 10, width // 3)), int(rng.integers(height // 10, height // 2))
        colour = rng.integers(40, 220, size=3).astype(np.float32)
        img[y0:y0 + h, x0:x0 + w] = 0.6 * img[y0:y0 + h, x0:x0 + w] + 0.4 * colour
    return np.clip(img, 0, 255).astype(np.uint8)


def _qr_image(payload: bytes, dark_mode: bool) -> np.ndarray:
    mods = qr_modules(payload)
    px = np.kron(mods, np.ones((_PX_PER_MODULE, _PX_PER_MODULE), np.uint8))
    fg, bg = (225, 22) if dark_mode else (20, 250)
    return np.where(px == 1, fg, bg).astype(np.uint8)


def _phone(payload: bytes, scene: Scene, rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float], float]:
    """The grey object image, its code's centre and the code's side (quiet zone excluded), in object pixels."""
    qr = _qr_image(payload, scene.dark_mode)
    side = qr.shape[0]
    screen_w, screen_h = int(side * 1.25), int(side * 2.1)
    screen = np.full((screen_h, screen_w), 22 if scene.dark_mode else 250, np.uint8)
    top = int(screen_h * 0.3)
    left = (screen_w - side) // 2
    screen[top:top + side, left:left + side] = qr
    bar = 200 if scene.dark_mode else 60
    screen[int(screen_h * 0.1):int(screen_h * 0.14), left:left + side // 2] = bar
    screen[int(screen_h * 0.8):int(screen_h * 0.83), left:left + side] = bar
    for _ in range(scene.cracks):
        pts = np.cumsum(rng.integers(-side // 4, side // 4, size=(5, 2)), axis=0)
        pts += np.array([rng.integers(0, screen_w), rng.integers(0, screen_h)])
        cv2.polylines(screen, [pts.astype(np.int32)], False, 140, thickness=max(1, _PX_PER_MODULE // 3))
    bezel = max(8, side // 12)
    body = np.full((screen_h + 2 * bezel, screen_w + 2 * bezel), 35, np.uint8)
    body[bezel:bezel + screen_h, bezel:bezel + screen_w] = screen
    return body, (bezel + left + side / 2, bezel + top + side / 2), side - 8 * _PX_PER_MODULE


@functools.lru_cache(maxsize=32)
def _receipt_paper(payload: bytes) -> tuple[np.ndarray, int]:
    qr = _qr_image(payload, False)
    side = qr.shape[0]
    width = int(side * 1.9)
    height = int(side * 2.6)
    paper = Image.new("L", (width, height), 245)
    draw = ImageDraw.Draw(paper)
    font = ImageFont.truetype(_FONT, max(10, side // 9))
    lines = ["MALL SERVICE DESK", "Umbrella U1-07", "Start 14:02  Due 14:02+1d", "Fee 2.00/h, cap 10.00",
             "Scan to return"]
    for i, text in enumerate(lines):
        draw.text((side // 8, side // 8 + i * side // 7), text, fill=25, font=font)
    img = np.array(paper)
    top = int(height * 0.92) - side
    left = (width - side) // 2
    img[top:top + side, left:left + side] = np.maximum(qr, 25)
    return img, top


def _receipt(payload: bytes) -> tuple[np.ndarray, tuple[float, float], float]:
    img, top = _receipt_paper(payload)
    side = _qr_image(payload, False).shape[0]
    return img, (img.shape[1] / 2, top + side / 2), side - 8 * _PX_PER_MODULE


def _badge(payload: bytes) -> tuple[np.ndarray, tuple[float, float], float]:
    qr = _qr_image(payload, False)
    side = qr.shape[0]
    card = np.full((int(side * 1.6), int(side * 1.15)), 235, np.uint8)
    card[: side // 5] = 70
    left = (card.shape[1] - side) // 2
    card[side // 4: side // 4 + side, left:left + side] = qr
    return card, (left + side / 2, side // 4 + side / 2), side - 8 * _PX_PER_MODULE


def _homography(obj_w: int, obj_h: int, anchor: tuple[float, float], scale: float, target: tuple[float, float],
                scene: Scene) -> np.ndarray:
    """Perspective tilt about the object's centre, in-plane rotation, then the code's centre onto target."""
    unit = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], np.float64)
    a = math.radians(scene.perspective_axis)
    depth = 1.0 + 2.0 * scene.perspective * (unit[:, 0] * math.cos(a) + unit[:, 1] * math.sin(a))
    pts = unit * np.array([obj_w, obj_h]) * scale / depth[:, None]
    t = math.radians(scene.tilt)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    dst = (pts @ rot.T).astype(np.float32)
    src = np.array([[0, 0], [obj_w, 0], [obj_w, obj_h], [0, obj_h]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    at = cv2.perspectiveTransform(np.array([[anchor]], np.float32), m)[0, 0]
    shift = np.array([[1, 0, target[0] - at[0]], [0, 1, target[1] - at[1]], [0, 0, 1]], np.float64)
    return shift @ m


def _paste(frame: np.ndarray, obj: np.ndarray, m: np.ndarray) -> None:
    h, w = obj.shape[:2]
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpPerspective(obj, m, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, size, flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[:, :, None]
    frame[:] = (frame * (1 - alpha) + warped[:, :, None] * alpha).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def _noise_bank(width: int, height: int) -> np.ndarray:
    # One unit-variance field, cropped at a per-frame offset: sensor noise without a full RNG draw per frame.
    rng = np.random.default_rng(12345)
    return rng.standard_normal((height + 64, width + 64)).astype(np.float32)


Printed = tuple[np.ndarray, tuple[float, float], float]  # grey image, code centre, code side (pixels)


def render(scene: Scene, width: int, height: int, frame_no: int = 0) -> np.ndarray:
    """One BGR frame of the scene; frame_no varies only the sensor noise."""
    rng = np.random.default_rng(scene.seed)
    objects: list[Printed] = []
    for payload in scene.payloads:
        if scene.holder == "receipt":
            objects.append(_receipt(payload))
        elif scene.holder == "badge":
            objects.append(_badge(payload))
        else:
            objects.append(_phone(payload, scene, rng))
    return _compose(scene, objects, width, height, frame_no, rng)


def photograph(paper: Printed, scene: Scene, width: int, height: int, frame_no: int = 0) -> np.ndarray:
    """A frame of an existing grey image (e.g. a virtual-printer receipt) held up like scene says."""
    return _compose(scene, [paper], width, height, frame_no, np.random.default_rng(scene.seed))


def _compose(scene: Scene, objects: list[Printed], width: int, height: int, frame_no: int,
             rng: np.random.Generator) -> np.ndarray:
    frame = background(width, height, scene.seed % 4).copy()
    offset = 0.0
    for obj, anchor, qr_side in objects:
        scale = scene.size * height / qr_side
        target = (scene.center[0] * width + offset, scene.center[1] * height)
        _paste(frame, obj, _homography(obj.shape[1], obj.shape[0], anchor, scale, target, scene))
        offset += obj.shape[1] * scale * 1.1
    img: np.ndarray = frame.astype(np.float32)
    if scene.glare > 0 and objects:
        gx = scene.center[0] * width + rng.uniform(-0.25, 0.25) * scene.size * height
        gy = scene.center[1] * height + rng.uniform(-0.25, 0.25) * scene.size * height
        r = 0.22 * scene.size * height
        x0, x1 = max(0, int(gx - 6 * r)), min(width, int(gx + 6 * r) + 1)
        y0, y1 = max(0, int(gy - 4 * r)), min(height, int(gy + 4 * r) + 1)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        spot = np.exp(-(((xx - gx) ** 2) / (2 * (1.6 * r) ** 2) + ((yy - gy) ** 2) / (2 * r ** 2)))
        img[y0:y1, x0:x1] += (scene.glare * 255 * spot)[:, :, None].astype(np.float32)
    if scene.brightness != 1.0:
        img *= scene.brightness
    if scene.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), scene.blur)
    if scene.motion > 0:
        k = max(2, int(scene.motion))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        img = cv2.filter2D(img, -1, kernel)
    if scene.noise > 0:
        bank = _noise_bank(width, height)
        dy, dx = (frame_no * 7 + scene.seed) % 64, (frame_no * 13 + scene.seed * 3) % 64
        img += (scene.noise * bank[dy:dy + height, dx:dx + width])[:, :, None]
    out: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    if scene.jpeg_quality:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg_quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = decoded
    return out
