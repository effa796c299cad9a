"""What a chaos scenario runs against: the broker, the fault proxy, the LLM stand-in and a
Weaviate shared by the whole run, and per scenario its own topics, helpdesk and services.

The ticketer reaches the helpdesk, the LLM-mode services reach the LLM endpoint and the
retriever reaches Weaviate through Toxiproxy, so a scenario can slow, cut or reset exactly one
of those links while everything else runs untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from supportbus_cli.chaos.ledger import Sightings
from supportbus_devtools.localkafka import LocalKafka
from supportbus_devtools.localweaviate import LocalWeaviate
from supportbus_devtools.stack import Stack
from supportbus_devtools.toxiproxy import LocalToxiproxy, ToxiproxyClient
from supportbus_llm_stub.testing import StubServer

StackKind = Literal["embedded", "llm", "weaviate"]

# The links a fault can hit, as Toxiproxy proxy names.
HELPDESK_LINK = "helpdesk"
LLM_LINK = "llm"
WEAVIATE_LINKS = ("weaviate-http", "weaviate-grpc")


@dataclass
class SharedServers:
    """Started once per chaos run."""

    bootstrap: str
    kafka: LocalKafka | None  # None: an external broker (broker faults are skipped)
    toxiproxy: LocalToxiproxy
    proxies: ToxiproxyClient
    stub: StubServer | None = None
    weaviate: LocalWeaviate | None = None
    weaviate_collection: str = ""


@dataclass
class ScenarioEnv:
    """One scenario's running stack and the addresses of its links."""

    name: str
    prefix: str
    kind: StackKind
    stack: Stack
    shared: SharedServers
    links: dict[str, str] = field(default_factory=dict)  # proxy name -> listen host:port
    restart_after_s: float = 3.0
    fault_s: float = 10.0
    outage_s: float = 60.0
    work_dir: Path = Path(".")
    # What the run has seen so far (answers, their fallbacks), for faults whose proof is there.
    sightings: Sightings = field(default_factory=Sightings)

    @property
    def helpdesk_url(self) -> str:
        """The helpdesk itself (not through the proxy): its fault switch and its tickets."""
        return self.stack.config.helpdesk_url

    def link_url(self, link: str, path: str = "") -> str:
        return f"http://{self.links[link]}{path}"


@dataclass(frozen=True)
class Probe:
    """One HTTP request through a link, to show what a fault does to it."""

    ok: bool
    seconds: float
    error: str = ""


def probe(url: str, timeout_s: float = 3.0) -> Probe:
    started = time.monotonic()
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as error:
        return Probe(False, time.monotonic() - started, type(error).__name__)
    return Probe(response.status_code < 500, time.monotonic() - started, "")
