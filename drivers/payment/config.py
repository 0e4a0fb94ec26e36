"""The merchant file (`merchant.json`): credentials of both providers, key files relative to the file.

```
{"gateway_url": "http://127.0.0.1:PORT",            # optional: absent = the providers' real gateways
 "wechat": {"mchid", "appid", "apiv3_key", "cert_serial_no", "private_key_file",
            "public_key_id", "platform_public_key_file"},
 "alipay": {"appid", "app_private_key_file", "alipay_public_key_file"}}
```
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WECHAT_GATEWAY = "https://api.mch.weixin.qq.com"
ALIPAY_GATEWAY = "https://openapi.alipay.com/gateway.do"


class MerchantConfigError(ValueError):
    pass


@dataclass(frozen=True)
class WechatCredentials:
    mchid: str
    appid: str
    apiv3_key: str
    cert_serial_no: str
    private_key: str
    public_key_id: str
    platform_public_key: str


@dataclass(frozen=True)
class AlipayCredentials:
    appid: str
    app_private_key: str
    alipay_public_key: str


@dataclass(frozen=True)
class MerchantConfig:
    gateway_url: str | None
    wechat: WechatCredentials | None
    alipay: AlipayCredentials | None

    @property
    def wechat_gateway(self) -> str:
        return (self.gateway_url or WECHAT_GATEWAY).rstrip("/")

    @property
    def alipay_gateway(self) -> str:
        return self.gateway_url.rstrip("/") + "/gateway.do" if self.gateway_url else ALIPAY_GATEWAY


def _fields(section: Any, name: str, keys: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(section, dict):
        raise MerchantConfigError(f"{name} must be an object")
    unknown = set(section) - set(keys)
    if unknown:
        raise MerchantConfigError(f"{name}: unknown keys {sorted(unknown)}")
    out = {}
    for k in keys:
        v = section.get(k)
        if not isinstance(v, str) or not v:
            raise MerchantConfigError(f"{name}.{k} must be a non-empty string")
        out[k] = v
    return out


def _read(base: Path, rel: str, what: str) -> str:
    path = (base / rel).resolve()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise MerchantConfigError(f"{what}: cannot read {path}: {e}") from e


def load_merchant(path: str | Path) -> MerchantConfig:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise MerchantConfigError(f"cannot read merchant file {path}: {e}") from e
    if not isinstance(raw, dict):
        raise MerchantConfigError("merchant file must be a JSON object")
    unknown = set(raw) - {"gateway_url", "wechat", "alipay"}
    if unknown:
        raise MerchantConfigError(f"unknown keys {sorted(unknown)}")
    gateway = raw.get("gateway_url")
    if gateway is not None and (not isinstance(gateway, str) or not gateway.startswith(("http://", "https://"))):
        raise MerchantConfigError("gateway_url must be an http(s) URL")
    base = path.parent
    wechat = alipay = None
    if "wechat" in raw:
        w = _fields(raw["wechat"], "wechat", ("mchid", "appid", "apiv3_key", "cert_serial_no", "private_key_file",
                                              "public_key_id", "platform_public_key_file"))
        if len(w["apiv3_key"].encode()) != 32:
            raise MerchantConfigError("wechat.apiv3_key must be 32 bytes (AES-256)")
        wechat = WechatCredentials(w["mchid"], w["appid"], w["apiv3_key"], w["cert_serial_no"],
                                   _read(base, w["private_key_file"], "wechat.private_key_file"), w["public_key_id"],
                                   _read(base, w["platform_public_key_file"], "wechat.platform_public_key_file"))
    if "alipay" in raw:
        a = _fields(raw["alipay"], "alipay", ("appid", "app_private_key_file", "alipay_public_key_file"))
        alipay = AlipayCredentials(a["appid"], _read(base, a["app_private_key_file"], "alipay.app_private_key_file"),
                                   _read(base, a["alipay_public_key_file"], "alipay.alipay_public_key_file"))
    if wechat is None and alipay is None:
        raise MerchantConfigError("merchant file configures neither wechat nor alipay")
    return MerchantConfig(gateway, wechat, alipay)
