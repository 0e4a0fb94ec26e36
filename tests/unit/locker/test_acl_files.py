"""Broker auth files: the `$7$` hash mosquitto reads, private files, stable passwords, confining ACL."""
from __future__ import annotations

import base64
import hashlib
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from drivers.locker.acl import acl_text, hash_password, write_broker_auth


def test_hash_is_pbkdf2_sha512_in_mosquitto_format() -> None:
    line = hash_password("s3cret", salt=b"0123456789ab")
    _, tag, iterations, salt, digest = line.split("$")
    assert tag == "7" and iterations == "101"
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", base64.b64decode(salt), 101)
    assert base64.b64decode(digest) == expected


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd not installed")
def test_same_format_as_mosquitto_passwd(tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(ref), "u", "pw"], check=True, capture_output=True)
    theirs = ref.read_text().strip().split(":", 1)[1]
    salt = base64.b64decode(theirs.split("$")[3])
    assert hash_password("pw", salt=salt) == theirs


def test_files_are_private_and_rerun_keeps_passwords(tmp_path: Path) -> None:
    auth = write_broker_auth("demo-mall", ["K01"], ["U1", "P1"], tmp_path)
    assert auth.users == ("station-K01", "locker-U1", "locker-P1", "sim-control")
    before = {u: auth.password(u) for u in auth.users}
    for path in [auth.password_file, auth.acl_file, *(auth.password_path(u) for u in auth.users)]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    again = write_broker_auth("demo-mall", ["K01"], ["U1", "P1", "U2"], tmp_path)
    assert {u: again.password(u) for u in auth.users} == before
    assert len(set(before.values())) == len(before), "every user has its own password"
    names = [line.split(":")[0] for line in again.password_file.read_text().splitlines()]
    assert names == ["station-K01", "locker-U1", "locker-P1", "locker-U2", "sim-control"]
    assert all(p not in again.password_file.read_text() for p in before.values()), "only hashes in passwd"


def test_acl_confines_each_locker_to_its_own_topics() -> None:
    text = acl_text("demo-mall", ["K01"], ["U1", "U2"])
    sections = {s.splitlines()[0]: s.splitlines()[1:] for s in text.split("\n\n")[1:]}
    u1 = sections["user locker-U1"]
    assert all("/U1/" in line for line in u1), u1
    assert "topic read mall/v1/demo-mall/locker/U1/cmd" in u1
    assert not any(line.startswith("topic write") and line.endswith("/cmd") for line in u1)
    k01 = sections["user station-K01"]
    assert "topic write mall/v1/demo-mall/locker/U1/cmd" in k01 and "topic write mall/v1/demo-mall/locker/U2/cmd" in k01
    assert not any("+" in line or "#" in line for line in k01), "a station is granted its lockers one by one"
    assert not any(line.endswith(("/state", "/event", "/ack")) and "write" in line for line in k01)
    assert sections["user sim-control"] == ["topic write mall/v1/demo-mall/sim/#"]
    assert "sim-control" not in acl_text("demo-mall", ["K01"], ["U1"], sim_control=False)


def test_acl_scopes_each_station_to_its_own_lockers_and_production_has_no_sim_control() -> None:
    text = acl_text("demo-mall", {"K01": ["U1"], "K02": ["U2", "P2"]}, ["U1", "U2", "P2"], sim_control=False)
    sections = {s.splitlines()[0]: s.splitlines()[1:] for s in text.split("\n\n")[1:]}
    k01, k02 = sections["user station-K01"], sections["user station-K02"]
    assert all("/U1/" in line or "/kiosk/K01/" in line for line in k01), k01
    assert "topic write mall/v1/demo-mall/locker/U1/cmd" in k01
    assert {line for line in k02 if line.endswith("/cmd")} == {"topic write mall/v1/demo-mall/locker/U2/cmd",
                                                                 "topic write mall/v1/demo-mall/locker/P2/cmd"}
    assert "sim" not in text and "user sim-control" not in sections


def test_mqtt_auth_cli_scopes_further_stations(tmp_path: Path) -> None:
    import sys
    root = Path(__file__).resolve().parents[3]
    out = tmp_path / "auth"
    run = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(root / "station.example.toml"), "mqtt-auth",
                          "--out", str(out), "--station", "K02=U9"], cwd=root, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    acl = (out / "acl").read_text()
    k02 = acl.split("user station-K02\n")[1].split("\n\n")[0]
    assert k02.splitlines()[:-1] == [f"topic read mall/v1/demo-mall/locker/U9/{leaf}" for leaf in
                                     ("status", "state", "event", "ack")] + ["topic write mall/v1/demo-mall/locker/U9/cmd"]
    assert "sim-control" not in (out / "passwd").read_text(), "production is the default"
    bad = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(root / "station.example.toml"), "mqtt-auth",
                          "--out", str(out), "--station", "K03"], cwd=root, capture_output=True, text=True)
    assert bad.returncode != 0 and "K03" in (bad.stdout + bad.stderr)
