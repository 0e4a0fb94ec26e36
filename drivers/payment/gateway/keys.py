"""Test credentials of the simulated gateway: generated into the state folder on first start, kept after."""
from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

_FILES = {
    # merchant side (listed in merchant.json)
    "wechat_merchant_key": "wechat/apiclient_key.pem",
    "wechat_platform_public": "wechat/pub_key.pem",
    "alipay_app_key": "alipay/app_private_key.pem",
    "alipay_public": "alipay/alipay_public_key.pem",
    # gateway side only
    "wechat_platform_key": "gateway/wechat_platform_key.pem",
    "alipay_key": "gateway/alipay_private_key.pem",
}


@dataclass
class GatewayKeys:
    mchid: str
    appid: str
    apiv3_key: str
    cert_serial_no: str
    public_key_id: str
    alipay_appid: str
    merchant_public: RSAPublicKey      # verifies the merchant's WeChat request signatures
    platform_private: RSAPrivateKey    # signs WeChat answers and notifications
    alipay_app_public: RSAPublicKey    # verifies the merchant's Alipay request signatures
    alipay_private: RSAPrivateKey      # signs Alipay answers and notifications


def _new_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_private(key: RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_public(key: RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load_private(path: Path) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


def ensure_state(state: Path, gateway_url: str) -> GatewayKeys:
    """Write merchant.json + keys on first start; on later starts reuse them and update gateway_url."""
    state.mkdir(parents=True, exist_ok=True)
    meta_path = state / "gateway" / "ids.json"
    if not meta_path.exists():
        for sub in ("wechat", "alipay", "gateway"):
            (state / sub).mkdir(exist_ok=True)
        keys = {"wechat_merchant_key": _new_key(), "wechat_platform_key": _new_key(),
                "alipay_app_key": _new_key(), "alipay_key": _new_key()}
        for name, key in keys.items():
            path = state / _FILES[name]
            path.write_bytes(_pem_private(key))
            path.chmod(0o600)
        (state / _FILES["wechat_platform_public"]).write_bytes(_pem_public(keys["wechat_platform_key"].public_key()))
        (state / _FILES["alipay_public"]).write_bytes(_pem_public(keys["alipay_key"].public_key()))
        alnum = string.ascii_letters + string.digits
        ids = {"mchid": "19" + "".join(secrets.choice(string.digits) for _ in range(8)),
               "appid": "wx" + secrets.token_hex(8),
               "apiv3_key": "".join(secrets.choice(alnum) for _ in range(32)),
               "cert_serial_no": secrets.token_hex(20).upper(),
               "public_key_id": "PUB_KEY_ID_" + secrets.token_hex(16).upper(),
               "alipay_appid": "2021" + "".join(secrets.choice(string.digits) for _ in range(12))}
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ids, indent=2))
        tmp.replace(meta_path)
    ids = json.loads(meta_path.read_text())
    merchant = {
        "gateway_url": gateway_url,
        "wechat": {"mchid": ids["mchid"], "appid": ids["appid"], "apiv3_key": ids["apiv3_key"],
                   "cert_serial_no": ids["cert_serial_no"], "private_key_file": _FILES["wechat_merchant_key"],
                   "public_key_id": ids["public_key_id"],
                   "platform_public_key_file": _FILES["wechat_platform_public"]},
        "alipay": {"appid": ids["alipay_appid"], "app_private_key_file": _FILES["alipay_app_key"],
                   "alipay_public_key_file": _FILES["alipay_public"]},
    }
    tmp = state / "merchant.json.tmp"
    tmp.write_text(json.dumps(merchant, indent=2))
    tmp.chmod(0o600)
    tmp.replace(state / "merchant.json")
    return GatewayKeys(
        mchid=ids["mchid"], appid=ids["appid"], apiv3_key=ids["apiv3_key"], cert_serial_no=ids["cert_serial_no"],
        public_key_id=ids["public_key_id"], alipay_appid=ids["alipay_appid"],
        merchant_public=_load_private(state / _FILES["wechat_merchant_key"]).public_key(),
        platform_private=_load_private(state / _FILES["wechat_platform_key"]),
        alipay_app_public=_load_private(state / _FILES["alipay_app_key"]).public_key(),
        alipay_private=_load_private(state / _FILES["alipay_key"]),
    )
