"""Benchmark: CPU per LLM call in the calling process, by client, 64 calls in flight against the
LLM stub at 0 ms latency (the stub runs in its own process, so its CPU is not counted). One row
per client, all from one run, each measured twice (second pass printed) after a warm-up:

* ``LlmClient.complete`` and ``LlmClient.structured``: the runtime's real path (prompt budget,
  retries, breaker, span, metrics) on its aiohttp chat-completions adapter;
* the openai SDK, on its default httpx transport and on its aiohttp one, if installed;
* langchain-openai's ``ChatOpenAI``, if installed (it is not a dependency any more:
  ``uv run --with langchain-openai python benchmarks/llm_client_cpu.py``);
* a bare aiohttp POST: the floor any client sits on.

Prints figures; asserts nothing (the machine is shared).

    uv run python benchmarks/llm_client_cpu.py [--calls 800]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import BaseModel, Field, SecretStr

from supportbus_llm_stub.testing import StubServer
from supportbus_responder.settings import ResponderSettings
from supportbus_runtime.llm.client import LlmClient, Prompt

IN_FLIGHT = 64
SYSTEM = "You are a support agent. Answer briefly, citing the articles."
DATA = "My card payment was declined twice at the shop today, why? " * 3
BEFORE = "Articles:\n[kb-1] Declined card payments: check your limits.\nCustomer: "
Call = Callable[[], Awaitable[Any]]


class Verdict(BaseModel):
    """Record the classification."""

    intent: str = Field(description="One intent name.")
    confidence: float = Field(ge=0, le=1)
    summary: str


async def measure(name: str, call: Call, calls: int) -> None:
    for _ in range(20):
        await call()
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with gate:
            await call()

    for attempt in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one() for _ in range(calls)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if attempt == 1:
            print(
                f"{name:34s} {1000 * cpu / calls:6.2f} ms CPU per call "
                f"{calls / wall:7.0f} calls/s",
                flush=True,
            )


def _plain_messages() -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": BEFORE + DATA}]


async def main(base_url: str, calls: int) -> None:
    settings = ResponderSettings(llm_base_url=base_url, llm_api_key=SecretStr("k"))
    client = LlmClient(settings)
    prompt = Prompt(system=SYSTEM, data=DATA, before=BEFORE)
    rows: list[tuple[str, Call]] = [
        ("supportbus LlmClient.complete", lambda: client.complete(prompt)),
        ("supportbus LlmClient.structured", lambda: client.structured(prompt, Verdict)),
    ]
    closers: list[Callable[[], Awaitable[Any]]] = [client.aclose]
    rows += _openai_rows(base_url, closers)
    rows += _langchain_rows(base_url)
    session = aiohttp.ClientSession(headers={"Authorization": "Bearer k"})
    closers.append(session.close)
    body = json.dumps({"model": "stub", "messages": _plain_messages()})

    async def bare() -> None:
        async with session.post(
            f"{base_url}/chat/completions", data=body, headers={"Content-Type": "application/json"}
        ) as response:
            json.loads(await response.read())

    rows.append(("bare aiohttp POST (the floor)", bare))
    print(f"{calls} calls per row, {IN_FLIGHT} in flight, stub at 0 ms", flush=True)
    try:
        for name, call in rows:
            await measure(name, call, calls)
    finally:
        for close in closers:
            await close()


def _openai_rows(
    base_url: str, closers: list[Callable[[], Awaitable[Any]]]
) -> list[tuple[str, Call]]:
    try:
        import openai
    except ImportError:
        print("openai SDK not installed: its rows are skipped", flush=True)
        return []
    rows: list[tuple[str, Call]] = []
    for label, http_client in (("httpx", None), ("aiohttp", openai.DefaultAioHttpClient())):
        sdk = openai.AsyncOpenAI(
            base_url=base_url, api_key="k", max_retries=0, http_client=http_client
        )
        closers.append(sdk.close)

        def call(sdk: openai.AsyncOpenAI = sdk) -> Awaitable[Any]:
            return sdk.chat.completions.create(model="stub", messages=_plain_messages())  # type: ignore[arg-type]

        rows.append((f"openai SDK {openai.__version__} ({label})", call))
    return rows


def _langchain_rows(base_url: str) -> list[tuple[str, Call]]:
    try:
        from langchain_core.messages import HumanMessage, SystemMessage
        from langchain_openai import ChatOpenAI
    except ImportError:
        print("langchain-openai not installed: its row is skipped", flush=True)
        return []
    chat = ChatOpenAI(model="stub", base_url=base_url, api_key=SecretStr("k"), max_retries=0)
    messages = [SystemMessage(content=SYSTEM), HumanMessage(content=BEFORE + DATA)]
    return [("langchain-openai ChatOpenAI", lambda: chat.ainvoke(messages))]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=800)
    args = parser.parse_args()
    with StubServer(latency_ms=0, echo_valid=True) as stub:
        asyncio.run(main(stub.base_url, args.calls))
