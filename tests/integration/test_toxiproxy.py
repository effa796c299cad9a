"""The local Toxiproxy and its client on a real server, in front of a real HTTP upstream: each
toxic the chaos suite uses does to a request through the proxy what it claims, and goes away."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from supportbus_devtools.localkafka import find_free_port
from supportbus_devtools.toxiproxy import (
    DEFAULT_TOXIPROXY_VERSION,
    Proxy,
    ToxiproxyClient,
    ToxiproxyError,
    Traffic,
    ensure_toxiproxy,
    toxic,
)

# The session's 600 s timeout (pyproject) also covers a first build of the server.
pytestmark = pytest.mark.integration

BIG = 100_000


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the connection open after a response, as Kafka or a pooled HTTP client
    # would: a stalled proxy must then hold the client, not close on it.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"x" * BIG if self.path == "/big" else b"pong"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output is for failures."""


class _Upstream(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Resets and cut connections are what these tests cause; no tracebacks for them."""


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = _Upstream(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(toxiproxy_server: str) -> Iterator[ToxiproxyClient]:
    with ToxiproxyClient(toxiproxy_server) as client:
        yield client


@pytest.fixture
def proxy(client: ToxiproxyClient, upstream: str) -> Iterator[Proxy]:
    created = client.create_proxy(f"up-{uuid.uuid4().hex[:8]}", upstream)
    try:
        yield created
    finally:
        client.delete_proxy(created.name)


def _get(proxy: Proxy, path: str = "/", timeout: float = 5.0) -> httpx.Response:
    """A fresh connection per request, so each one meets the proxy's current toxics."""
    with httpx.Client(timeout=timeout, trust_env=False) as http:
        return http.get(f"http://{proxy.listen}{path}")


def _settled_traffic(client: ToxiproxyClient, proxy: Proxy) -> Traffic:
    """Counters move when a connection ends, just after the client sees it end."""
    last, deadline = client.traffic(proxy.name), time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.2)
        current = client.traffic(proxy.name)
        if current == last:
            return current
        last = current
    return last


def test_healthy_proxy_passes_requests_through_on_a_local_port(
    client: ToxiproxyClient, proxy: Proxy, upstream: str
) -> None:
    assert proxy.listen == f"127.0.0.1:{proxy.port}"
    assert proxy.port > 0
    assert proxy.upstream == upstream
    assert proxy.enabled
    assert _get(proxy).text == "pong"
    assert client.toxics(proxy.name) == []
    if "TOXIPROXY_URL" not in os.environ:  # an external server is whatever version it is
        assert client.version() == DEFAULT_TOXIPROXY_VERSION


def test_latency_toxic_delays_responses_until_it_is_removed(
    client: ToxiproxyClient, proxy: Proxy
) -> None:
    with toxic(client, proxy.name, "latency", {"latency": 300, "jitter": 0}) as name:
        [listed] = client.toxics(proxy.name)
        assert (listed.name, listed.type, listed.stream) == (name, "latency", "downstream")
        assert listed.attributes["latency"] == 300
        started = time.monotonic()
        assert _get(proxy).text == "pong"
        assert time.monotonic() - started >= 0.3
    assert client.toxics(proxy.name) == []
    started = time.monotonic()
    assert _get(proxy).text == "pong"
    assert time.monotonic() - started < 0.3


def test_timeout_toxic_holds_responses_until_the_client_times_out(
    client: ToxiproxyClient, proxy: Proxy
) -> None:
    assert _get(proxy).text == "pong"
    before = _settled_traffic(client, proxy)
    with toxic(client, proxy.name, "timeout", {"timeout": 0}), pytest.raises(httpx.ReadTimeout):
        _get(proxy, timeout=0.5)
    # The upstream answered and the proxy swallowed it: received from upstream, never sent on.
    after = _settled_traffic(client, proxy)
    assert after.received_downstream > before.received_downstream
    assert after.sent_downstream == before.sent_downstream
    assert _get(proxy).text == "pong"


def test_reset_peer_toxic_resets_connections(client: ToxiproxyClient, proxy: Proxy) -> None:
    with (
        toxic(client, proxy.name, "reset_peer", {"timeout": 0}),
        pytest.raises(httpx.ReadError, match="reset"),
    ):
        _get(proxy)
    assert _get(proxy).text == "pong"


def test_limit_data_toxic_cuts_a_response_short(client: ToxiproxyClient, proxy: Proxy) -> None:
    with (
        toxic(client, proxy.name, "limit_data", {"bytes": 1000}),
        pytest.raises(httpx.RemoteProtocolError, match="without sending complete message body"),
    ):
        _get(proxy, "/big")
    assert len(_get(proxy, "/big").content) == BIG


def test_disabled_proxy_refuses_connections_and_enabling_restores_it(
    client: ToxiproxyClient, proxy: Proxy
) -> None:
    down = client.set_enabled(proxy.name, False)
    assert not down.enabled
    assert not client.proxy(proxy.name).enabled
    with pytest.raises(httpx.ConnectError):
        _get(proxy)
    up = client.set_enabled(proxy.name, True)
    assert up.enabled
    assert up.listen == proxy.listen
    assert _get(proxy).text == "pong"


def test_reset_enables_proxies_and_removes_toxics(client: ToxiproxyClient, proxy: Proxy) -> None:
    with toxic(client, proxy.name, "latency", {"latency": 5000}):
        client.set_enabled(proxy.name, False)
        client.reset()  # the toxic is gone before the block ends, which is fine
        assert client.toxics(proxy.name) == []
        assert _get(proxy, timeout=2).text == "pong"


def test_api_refusals_are_toxiproxy_errors_with_the_api_message(
    client: ToxiproxyClient, proxy: Proxy, upstream: str
) -> None:
    with pytest.raises(ToxiproxyError, match="proxy not found") as missing:
        client.proxy("no-such-proxy")
    assert missing.value.status == 404
    assert isinstance(missing.value.__cause__, httpx.HTTPStatusError)
    with pytest.raises(ToxiproxyError, match="proxy already exists") as taken:
        client.create_proxy(proxy.name, upstream)
    assert taken.value.status == 409
    with pytest.raises(ToxiproxyError, match="invalid toxic type"):
        client.add_toxic(proxy.name, "nonsense", {})  # type: ignore[arg-type]


def test_unreachable_api_is_a_toxiproxy_error() -> None:
    nowhere = ToxiproxyClient(f"http://127.0.0.1:{find_free_port()}", timeout=2)
    with nowhere, pytest.raises(ToxiproxyError, match="unreachable") as raised:
        nowhere.reset()
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_building_without_go_on_path_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToxiproxyError, match="put `go` on PATH"):
        ensure_toxiproxy(tmp_path, "2.12.0")


def test_a_failed_build_reports_the_tail_of_go_output(tmp_path: Path) -> None:
    with pytest.raises(ToxiproxyError, match=r"could not build Toxiproxy v0\.0\.1") as raised:
        ensure_toxiproxy(tmp_path, "0.0.1")
    assert "0.0.1" in str(raised.value).split("\n", 1)[1]  # go's own words follow
