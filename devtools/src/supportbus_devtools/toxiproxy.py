"""A local Toxiproxy (Shopify's fault-injecting TCP proxy) and a small typed client for it.

The chaos suite puts Toxiproxy between a service and a dependency (Kafka, Weaviate, the helpdesk)
and injects latency, stalls, resets and outages on demand. This machine class has no Docker, so
``toxiproxy-server`` is built once with ``go install`` from the Go module proxy into the cache,
like the local Weaviate, and runs as our child process on 127.0.0.1. It is a development tool:
it lives in the devtools package so that no service can come to depend on it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import httpx

from supportbus_devtools._kafka_probe import find_free_port
from supportbus_devtools.errors import ToxiproxyError as ToxiproxyError  # re-exported
from supportbus_devtools.gobuild import ensure_go_binary
from supportbus_devtools.localserver import LocalServer, default_cache_dir
from supportbus_devtools.processes import say

# The newest release on the Go module proxy; builds with this project's Go (1.26, CGO off).
DEFAULT_TOXIPROXY_VERSION = "2.12.0"
_MODULE = "github.com/Shopify/toxiproxy/v2"
_BINARY = "toxiproxy-server"  # go install names it after its directory, "server": too vague
_HOST = "127.0.0.1"

ToxicKind = Literal[
    "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"
]
Stream = Literal["upstream", "downstream"]


_say = functools.partial(say, "toxiproxy")


def ensure_toxiproxy(cache_dir: Path, version: str = DEFAULT_TOXIPROXY_VERSION) -> Path:
    """Return ``<cache_dir>/toxiproxy-<version>/bin/toxiproxy-server``, building it on first use."""
    return ensure_go_binary(
        cache_dir.expanduser().resolve() / f"toxiproxy-{version}",
        f"{_MODULE}/cmd/server@v{version}",
        what=f"Toxiproxy v{version}",
        name=_BINARY,
        built_as="server",
        error=ToxiproxyError,
        needs_go=(
            "Go is needed once to build the local Toxiproxy server: put `go` on PATH "
            "(e.g. from https://go.dev/dl or apt-get install golang)"
        ),
        say=_say,
        # The version stamp its releases carry; without it GET /version answers "git".
        flags=[f"-ldflags=-X {_MODULE}.Version={version}"],
    )


class LocalToxiproxy(LocalServer):
    """``with LocalToxiproxy(work_dir, cache_dir) as server:`` serves the API on 127.0.0.1;
    ``start(timeout=30)`` bounds the start, not a first build."""

    label = "Toxiproxy"
    tag = "toxiproxy"
    error = ToxiproxyError
    start_timeout_s = 30.0
    poll_interval_s = 0.1

    def __init__(self, work_dir: Path, cache_dir: Path, *, port: int = 0,
                 version: str = DEFAULT_TOXIPROXY_VERSION) -> None:
        super().__init__(work_dir)
        self.work_dir = self._data_dir
        self.cache_dir = cache_dir
        self.port = port or find_free_port()
        self.version = version

    @property
    def api_url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    def _describe(self) -> str:
        return f"v{self.version} on {self.api_url}"

    def _ports(self) -> Mapping[str, int]:
        return {"API": self.port}

    def _environment(self) -> Mapping[str, str]:
        return {"LOG_LEVEL": "warn"}  # info logs a JSON line per connection

    def _prepare(self) -> list[str]:
        binary = ensure_toxiproxy(self.cache_dir, self.version)
        # -proxy-metrics turns on the byte counters behind ToxiproxyClient.traffic().
        return [str(binary), "-host", _HOST, "-port", str(self.port), "-proxy-metrics"]

    def _ready(self) -> bool:
        """Its /version answers with a version: not merely something that speaks HTTP."""
        with contextlib.suppress(httpx.HTTPError, ValueError):
            reply = httpx.get(f"{self.api_url}/version", timeout=1.0, trust_env=False)
            return reply.status_code == 200 and "version" in reply.json()
        return False


@dataclass(frozen=True)
class Proxy:
    """A proxy as the API reports it; clients connect to ``listen`` instead of ``upstream``."""

    name: str
    listen: str  # host:port
    upstream: str
    enabled: bool

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Traffic:
    """Bytes through one proxy since the server started (its Prometheus counters). A connection
    is counted when it ends, and ``sent`` only if its writes succeeded, so data a toxic held
    back or cut off shows as received but not sent on."""

    received_upstream: int = 0  # from clients
    sent_upstream: int = 0  # on to the upstream
    received_downstream: int = 0  # from the upstream
    sent_downstream: int = 0  # on to clients


_SAMPLE = re.compile(r"^toxiproxy_proxy_(received|sent)_bytes_total\{(.*)\}\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class ToxiproxyClient:
    """Blocking client for the Toxiproxy HTTP API (async callers: ``asyncio.to_thread``)."""

    def __init__(self, api_url: str, *, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        # trust_env off: an HTTP_PROXY in a developer's shell must not reroute a local API.
        self._http = httpx.Client(base_url=self.api_url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, method: str, path: str, body: object = None) -> httpx.Response:
        try:
            reply = self._http.request(method, path, json=body)
            reply.raise_for_status()
        except httpx.HTTPStatusError as exc:
            try:  # {"error": "proxy not found", "status": 404}, though sent as text/plain
                message = str(exc.response.json()["error"])
            except (ValueError, KeyError, TypeError):
                message = exc.response.text.strip() or exc.response.reason_phrase
            raise ToxiproxyError(
                f"Toxiproxy {method} {path}: {message}", exc.response.status_code
            ) from exc
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"Toxiproxy API at {self.api_url} unreachable: {exc}") from exc
        return reply

    def version(self) -> str:
        return str(self._request("GET", "/version").json()["version"])

    def create_proxy(self, name: str, upstream: str, listen_port: int | None = None) -> Proxy:
        """Listen on 127.0.0.1 and forward to ``upstream`` (host:port); without a port the
        kernel picks a free one as Toxiproxy binds, which cannot race like probing first."""
        body = {"name": name, "upstream": upstream, "listen": f"{_HOST}:{listen_port or 0}"}
        return _proxy(self._request("POST", "/proxies", body).json())

    def proxy(self, name: str) -> Proxy:
        return _proxy(self._request("GET", f"/proxies/{name}").json())

    def delete_proxy(self, name: str) -> None:
        self._request("DELETE", f"/proxies/{name}")

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Disabled: open connections are closed and new ones refused (the dependency is down);
        enabled again, it listens on the same address."""
        return _proxy(self._request("PATCH", f"/proxies/{name}", {"enabled": enabled}).json())

    def add_toxic(self, proxy: str, kind: ToxicKind, attributes: Mapping[str, int | float], *,
                  stream: Stream = "downstream", toxicity: float = 1.0,
                  name: str | None = None) -> str:
        """Add a toxic and return its name (default ``<kind>_<stream>``). ``downstream`` is the
        upstream -> client direction. Attributes, times in ms: latency {latency, jitter};
        timeout {timeout} (0: hold the data until removed, though an upstream closing its end
        still closes the client's); reset_peer {timeout}; limit_data {bytes}; bandwidth {rate}
        (KB/s); slow_close {delay}."""
        body = {"name": name or f"{kind}_{stream}", "type": kind, "stream": stream,
                "toxicity": toxicity, "attributes": dict(attributes)}
        return str(self._request("POST", f"/proxies/{proxy}/toxics", body).json()["name"])

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._request("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def toxics(self, proxy: str) -> list[Toxic]:
        return [
            Toxic(t["name"], t["type"], t["stream"], float(t["toxicity"]), t["attributes"])
            for t in self._request("GET", f"/proxies/{proxy}/toxics").json()
        ]

    def reset(self) -> None:
        """Enable every proxy and remove every toxic; the proxies stay."""
        self._request("POST", "/reset")

    def traffic(self, proxy: str) -> Traffic:
        """Byte counters for one proxy; needs a server run with ``-proxy-metrics`` (as
        LocalToxiproxy runs it), else a ToxiproxyError with status 404."""
        counts: dict[str, int] = {}
        for line in self._request("GET", "/metrics").text.splitlines():
            sample = _SAMPLE.match(line)
            labels = dict(_LABEL.findall(sample.group(2))) if sample else {}
            if sample and labels.get("proxy") == proxy:
                key = f"{sample.group(1)}_{labels.get('direction')}"
                counts[key] = counts.get(key, 0) + int(float(sample.group(3)))
        return Traffic(**counts)


def _proxy(data: dict[str, Any]) -> Proxy:
    return Proxy(data["name"], data["listen"], data["upstream"], bool(data["enabled"]))


@contextlib.contextmanager
def toxic(client: ToxiproxyClient, proxy: str, kind: ToxicKind,
          attributes: Mapping[str, int | float], *, stream: Stream = "downstream",
          toxicity: float = 1.0, name: str | None = None) -> Iterator[str]:
    """The toxic is active inside the block and removed on exit, also on error; one already
    gone by then (a ``reset()`` in the block) is fine."""
    added = client.add_toxic(proxy, kind, attributes, stream=stream, toxicity=toxicity, name=name)
    try:
        yield added
    finally:
        try:
            client.remove_toxic(proxy, added)
        except ToxiproxyError as exc:
            if exc.status != 404:
                raise


def main(argv: list[str] | None = None) -> None:
    """``python -m supportbus_devtools.toxiproxy build``: build it ahead of the tests."""
    parser = argparse.ArgumentParser(prog="python -m supportbus_devtools.toxiproxy")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build toxiproxy-server once; print its path")
    build.add_argument("--version", default=DEFAULT_TOXIPROXY_VERSION)
    args = parser.parse_args(argv)
    try:
        print(ensure_toxiproxy(default_cache_dir(), args.version))
    except ToxiproxyError as exc:
        parser.exit(1, f"toxiproxy: {exc}\n")


if __name__ == "__main__":
    main()
