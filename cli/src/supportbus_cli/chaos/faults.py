"""The faults a chaos scenario injects, each returning proof that it really happened (an exit
code, a refused connection, a counter that moved), so a scenario that injects nothing fails.

Each runs on the event loop beside the publisher; anything that blocks (process control, HTTP
to the proxy or the helpdesk) goes to a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from supportbus_cli.chaos.environment import (
    HELPDESK_LINK,
    LLM_LINK,
    WEAVIATE_LINKS,
    Probe,
    ScenarioEnv,
    probe,
)
from supportbus_runtime.errors import SupportbusError


class FaultNotInjected(SupportbusError):
    """A fault could not be set up (a server refused, a process would not start)."""


@dataclass(frozen=True)
class FaultRecord:
    started_at: float  # wall clock: when the fault began (the last one, for repeated faults)
    ended_at: float  # when it was lifted (== started_at for a kill)
    happened: bool
    detail: str


Fault = Callable[[ScenarioEnv], Awaitable[FaultRecord]]


async def run_in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(function, *args)


# -- processes ---------------------------------------------------------------------------------


def kill_process(name: str) -> Fault:
    """SIGKILL one process of the stack, restart it ``restart_after_s`` later."""

    async def fault(env: ScenarioEnv) -> FaultRecord:
        process = env.stack.processes[name]
        started = time.time()
        await run_in_thread(process.kill_hard)
        code = process.returncode
        await asyncio.sleep(env.restart_after_s)
        await run_in_thread(env.stack.restart, name)
        if name == "helpdesk":
            await run_in_thread(env.stack.wait_helpdesk, 60.0)
        return FaultRecord(
            started,
            time.time(),
            code == -9,
            f"{name} SIGKILLed (exit {code}), restarted {env.restart_after_s:g} s later",
        )

    return fault


def rebalance_storm(
    services: tuple[str, ...] = ("classifier", "ticketer"), rounds: int = 3
) -> Fault:
    """Replicas join the group and are SIGKILLed, round after round, while requests flow."""

    async def fault(env: ScenarioEnv) -> FaultRecord:
        kills: list[int | None] = []
        last = time.time()
        for _ in range(rounds):
            names = [await run_in_thread(env.stack.add_replica, s) for s in services]
            # Long enough for the group to hand the newcomers partitions and records.
            await asyncio.sleep(max(env.restart_after_s, 4.0))
            last = time.time()
            for name in names:
                process = env.stack.processes[name]
                await run_in_thread(process.kill_hard)
                kills.append(process.returncode)
            await asyncio.sleep(2.0)
        killed = sum(1 for code in kills if code == -9)
        return FaultRecord(
            last,
            last,
            killed == len(kills) and killed > 0,
            f"{rounds} rounds: {', '.join(services)} replicas joined, then {killed} SIGKILLed",
        )

    return fault


# -- the broker ----------------------------------------------------------------------------------


def broker_restart(*, hard: bool) -> Fault:
    """SIGKILL (or stop) the broker and start it again on the same data directory and port."""

    async def fault(env: ScenarioEnv) -> FaultRecord:
        kafka = env.shared.kafka
        if kafka is None:
            raise FaultNotInjected("broker faults need the command's own broker")
        started = time.time()
        if hard:
            code = await run_in_thread(kafka.kill_hard)
            how = f"SIGKILLed (exit {code})"
        else:
            await run_in_thread(kafka.stop)
            code, how = 0, "stopped (SIGTERM, clean shutdown)"
        down = not await run_in_thread(_accepts, kafka.port)
        await asyncio.sleep(env.restart_after_s)
        await run_in_thread(kafka.start)
        ended = time.time()
        await asyncio.sleep(5.0)  # let the services notice the broker is back
        retried = sum(
            [
                await run_in_thread(env.stack.metric_sum, name, "supportbus_publish_retries_total")
                for name in env.stack.processes
                if name != "helpdesk"
            ]
        )
        return FaultRecord(
            started,
            ended,
            down and (code == -9 if hard else True),
            f"broker {how}, port refused connections: {down}, restarted on the same data dir; "
            f"publishes retried by the services: {retried:.0f}",
        )

    return fault


def _accepts(port: int) -> bool:
    from supportbus_devtools._kafka_probe import accepts_connections

    return accepts_connections(port)


# -- links through Toxiproxy ---------------------------------------------------------------------


def _probe_path(link: str) -> str:
    return {"helpdesk": "/healthz", "llm": "/_stats", "weaviate-http": "/v1/meta"}.get(link, "/")


def toxic(link: str, kind: str, attributes: dict[str, Any], *, expect: str) -> Fault:
    """A Toxiproxy toxic on one link for ``fault_s``; ``expect`` is what a probe through the
    link must show while it is on: "slow" (≥ 1 s), "timeout" or "error"."""

    async def fault(env: ScenarioEnv) -> FaultRecord:
        proxies = env.shared.proxies
        name = await run_in_thread(_add_toxic, proxies, link, kind, attributes)
        started = time.time()
        seen: Probe | None = None
        try:
            seen = await run_in_thread(probe, env.link_url(link, _probe_path(link)), 4.0)
            await asyncio.sleep(max(env.fault_s - (time.time() - started), 0))
        finally:
            await run_in_thread(proxies.remove_toxic, link, name)
        happened = {
            "slow": seen.seconds >= 1.0,
            "timeout": not seen.ok and "Timeout" in seen.error,
            "error": not seen.ok,
        }[expect]
        return FaultRecord(
            started,
            time.time(),
            happened,
            f"{link}: {kind} {attributes} for {env.fault_s:g} s; probe: "
            f"{'ok' if seen.ok else seen.error} after {seen.seconds:.1f} s",
        )

    return fault


def _add_toxic(proxies: Any, link: str, kind: str, attributes: dict[str, Any]) -> str:
    return str(proxies.add_toxic(link, kind, attributes))


def outage(links: tuple[str, ...]) -> Fault:
    """The links disabled for ``outage_s``: connections closed and refused, as when a
    dependency is down."""

    async def fault(env: ScenarioEnv) -> FaultRecord:
        proxies = env.shared.proxies
        started = time.time()
        for link in links:
            await run_in_thread(proxies.set_enabled, link, False)
        try:
            seen = await run_in_thread(probe, env.link_url(links[0], _probe_path(links[0])), 2.0)
            await asyncio.sleep(env.outage_s)
        finally:
            for link in links:
                await run_in_thread(proxies.set_enabled, link, True)
        return FaultRecord(
            started,
            time.time(),
            not seen.ok,
            f"{'+'.join(links)} down for {env.outage_s:g} s (probe: {seen.error or 'answered'})",
        )

    return fault


HELPDESK_OUTAGE = outage((HELPDESK_LINK,))
LLM_OUTAGE = outage((LLM_LINK,))
WEAVIATE_OUTAGE = outage(WEAVIATE_LINKS)


# -- the helpdesk's own fault switch -------------------------------------------------------------


def helpdesk_faults(settings: dict[str, float], counter: str) -> Fault:
    """Rate-based faults in the helpdesk (HELPDESK_FAULTS_ENABLED) for ``fault_s``; proof is
    the helpdesk's own count of what it injected."""

    async def fault(env: ScenarioEnv) -> FaultRecord:
        url = f"{env.helpdesk_url}/_faults"
        auth = env.stack.config.helpdesk_keys.operator_headers()
        started = time.time()
        await run_in_thread(_put, url, auth, settings)
        try:
            await asyncio.sleep(env.fault_s)
        finally:
            await run_in_thread(_put, url, auth, {k: 0.0 for k in settings if k.endswith("rate")})
        state = await run_in_thread(_get, url, auth)
        injected = int(state.get("injected", {}).get(counter, 0))
        replays = int(state.get("replays", 0))
        return FaultRecord(
            started,
            time.time(),
            injected > 0,
            f"helpdesk {settings} for {env.fault_s:g} s: {injected} {counter} injected, "
            f"{replays} idempotent replays",
        )

    return fault


def _put(url: str, auth: dict[str, str], body: dict[str, float]) -> None:
    try:
        httpx.put(url, json=body, headers=auth, timeout=5).raise_for_status()
    except httpx.HTTPError as error:
        raise FaultNotInjected(f"the helpdesk refused its fault switch: {error}") from error


def _get(url: str, auth: dict[str, str]) -> dict[str, Any]:
    response = httpx.get(url, headers=auth, timeout=5)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data
