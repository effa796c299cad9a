"""How ``localkafka`` finds free ports and tells that a broker is up and usable.

Readiness is asked through aiokafka on a fresh thread with its own event loop, so a synchronous
``LocalKafka.start()`` also works from a thread whose event loop is already running.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from ._kafka_config import HOST


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


# Every port this process has handed out: a picker that can return the same port twice races
# against itself (the chaos suite picks a helpdesk port, then the Stack one per service, before
# any of them binds; a repeat let the helpdesk take a classifier's port).
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def find_free_port(exclude: tuple[int, ...] = ()) -> int:
    """A port on 127.0.0.1 nobody listens on right now, for a server we are about to start;
    never one this process handed out before.

    Picked below the kernel's ephemeral range: a port the kernel hands out for ``bind(0)`` is
    from the range it also uses for outgoing connections, so between our pick and the server's
    bind any client connection (hundreds of them in a chaos run) could take it. Racy still
    against other processes picking ports, but no longer against every socket on the machine."""
    low, _ = _ephemeral_range()
    candidates = range(20000, low) if low > 21000 else range(1024, 65536)
    with _handed_out_lock:
        for _ in range(200):
            port = random.choice(candidates)
            if port in exclude or port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((HOST, port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
        while True:  # that range is full: fall back to what the kernel picks
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port = int(sock.getsockname()[1])
            if port not in exclude and port not in _handed_out:
                _handed_out.add(port)
                return port


def port_taken(port: int) -> bool:
    """True when binding would fail, i.e. something listens there already."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


async def _has_live_broker(bootstrap: str, seconds: float, options: dict[str, Any]) -> bool:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(seconds * 1000), **options
    )
    try:
        async with asyncio.timeout(seconds):
            await admin.start()
            cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))  # a fenced (not yet usable) broker is not listed
    finally:
        await admin.close()


def broker_ready(bootstrap: str, timeout: float = 5.0, **options: Any) -> bool:
    """True once the broker lists itself in its metadata (asked from a fresh thread and loop)."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            answer.append(asyncio.run(_has_live_broker(bootstrap, timeout, options)))
        except Exception:  # any failure just means "not ready yet"
            answer.append(False)

    thread = threading.Thread(target=probe, name="localkafka-probe", daemon=True)
    thread.start()
    thread.join(timeout * 3)
    return bool(answer and answer[0])
