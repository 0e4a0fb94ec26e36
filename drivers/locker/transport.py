"""How every locker-side MQTT connection is made: paho 2.x callbacks, QoS 1 friendly TCP, credentials."""
from __future__ import annotations

import secrets
import socket
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    # a command and its ack are tiny packets: Nagle + delayed ACK would hold each one back ~40 ms
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def new_client(client_id: str, username: str | None = None, password: str | None = None) -> mqtt.Client:
    """A paho client (callback API v2, clean session, TCP_NODELAY) with the given credentials."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    if username:
        client.username_pw_set(username, password)
    client.on_socket_open = _no_delay
    return client


def private_client_id(prefix: str) -> str:
    """`{prefix}-{64 random bits}`, new for every connection.

    MQTT lets a new connection with a client id drop the connection that holds it (the broker then sends the
    victim's Will). Device credentials cannot be tied to one id here (a station and its CLI tools, a simulator's
    firmware and control connections share a login), so no device uses a predictable id: nobody can take over a
    connection whose id they cannot know (the broker sends client ids to no client; the ACL grants no `$SYS`).
    """
    return f"{prefix}-{secrets.token_hex(8)}"
