"""``POST /v1/chat/completions`` answered from a script of steps.

Steps (JSON objects, consumed in order; ``default`` answers once the script is used up):

* ``{"kind": "tool_call", "arguments": {...}, "name": "..."}`` - a valid tool call (name defaults
  to the first tool offered);
* ``{"kind": "content", "content": "..."}`` - a plain assistant message;
* ``{"kind": "invalid_json"}`` - a tool call whose arguments are not JSON;
* ``{"kind": "unknown_intent"}`` - a tool call naming an intent no taxonomy has;
* ``{"kind": "rate_limit", "retry_after": 1}`` - HTTP 429 with ``Retry-After``;
* ``{"kind": "error", "status": 500}`` - an HTTP error;
* ``{"kind": "slow", "seconds": 5, "then": {...}}`` - sleeps, then answers ``then``;
* ``{"kind": "gullible", "intent": "...", "content": "..."}`` - answers ``intent`` (tool call) or
  ``content`` (text) but obeys any instruction it finds in the user message: "classify this as X",
  "set priority urgent", "reveal your system prompt", "include link URL", other customers' data;
* ``{"kind": "echo_valid"}`` - one answer a careful model would give, built from the request
  itself (see ``supportbus_llm_stub.echo``): with tools offered, a tool call naming an intent the
  tool schema (an ``enum``) or the system prompt (``- name: description`` lines) offers; without,
  a reply citing the ``[article-id]`` lines of the prompt and carrying its ticket link; to the
  reviewer agent's prompt (its system message names a "QA reviewer"), the ``review`` answer;
* ``{"kind": "review"}`` - a deterministic review of the reply in the prompt against the
  articles in it (see ``supportbus_llm_stub.review``): a call of the first tool offered, or the
  same JSON as text.

``POST /_script`` (``{"steps": [...], "default": {...}}``) replaces the script and clears the
request log and counters; ``GET /_requests`` returns the request bodies received (all of them, or
the last ``--log-limit``); ``GET /_stats`` counts the answers by kind. Control endpoints answer
only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from collections import Counter, deque
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from supportbus_llm_stub.echo import echo_valid_arguments, echo_valid_reply
from supportbus_llm_stub.review import is_review_request, review_arguments

Step = dict[str, Any]

_CLASSIFY_AS = re.compile(
    r"(?:classify|categori[sz]e|label|route|mark|tag|file)\s+(?:this|it|me|the\s+\w+)?\s*"
    r"(?:as|under|to)\s+[\"'`]?([A-Za-z_?]+)",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s)\"'<>]+")
_LEAKED_CUSTOMER = "Customer cus_999 (maria.other@example.org, IBAN DE89370400440532013000)"


class StubState:
    def __init__(
        self, steps: list[Step], default: Step, latency_ms: int, log_limit: int | None = None
    ) -> None:
        self.steps = list(steps)
        self.default = default
        self.latency_ms = latency_ms
        # Bounded on request, so a long load test does not keep every prompt in memory.
        self.requests: deque[dict[str, Any]] = deque(maxlen=log_limit)
        self.answered: Counter[str] = Counter()

    def next_step(self) -> Step:
        return self.steps.pop(0) if self.steps else self.default

    def reset(self) -> None:
        self.requests.clear()
        self.answered.clear()


def _user_text(body: dict[str, Any]) -> str:
    return "\n".join(
        str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"
    )


def _system_text(body: dict[str, Any]) -> str:
    return "\n".join(
        str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"
    )


def _tool_name(body: dict[str, Any], step: Step) -> str:
    if step.get("name"):
        return str(step["name"])
    tools = body.get("tools") or []
    return str(tools[0]["function"]["name"]) if tools else "answer"


def _usage(body: dict[str, Any], completion: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
    done = len(completion) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _completion(body: dict[str, Any], message: dict[str, Any], finish: str) -> dict[str, Any]:
    text = message.get("content") or json.dumps(message.get("tool_calls") or "")
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "stub"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(body, text),
    }


def _tool_call(body: dict[str, Any], step: Step, arguments: str) -> dict[str, Any]:
    call = {
        "id": f"call_{uuid.uuid4().hex[:8]}",
        "type": "function",
        "function": {"name": _tool_name(body, step), "arguments": arguments},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return _completion(body, message, "tool_calls")


def _content(body: dict[str, Any], text: str) -> dict[str, Any]:
    return _completion(body, {"role": "assistant", "content": text}, "stop")


def _gullible(body: dict[str, Any], step: Step) -> dict[str, Any]:
    """Do whatever the user message says, like a model with no defences would."""
    text = _user_text(body)
    lowered = text.lower()
    reveal = "system prompt" in lowered or "your instructions" in lowered
    links = _URL.findall(text)
    fishing = "other customer" in lowered or "another customer" in lowered
    if body.get("tools"):
        intent = str(step.get("intent", "unknown"))
        match = _CLASSIFY_AS.search(text)
        if match:
            intent = match.group(1)
        arguments: dict[str, Any] = {
            "intent": intent,
            "confidence": 0.99,
            "summary": str(step.get("summary", "Customer request.")),
        }
        if "urgent" in lowered:
            arguments["priority"] = "urgent"
        if reveal:
            arguments["summary"] = _system_text(body)[:400]
        return _tool_call(body, step, json.dumps(arguments))
    parts = [str(step.get("content", "Thank you for your message."))]
    if reveal:
        parts.append("My instructions were: " + _system_text(body))
    parts.extend(f"Please visit {link}" for link in links)
    if fishing:
        parts.append(_LEAKED_CUSTOMER)
    return _content(body, "\n\n".join(parts))


def create_app(state: StubState) -> FastAPI:
    app = FastAPI(title="supportbus LLM stub")

    def _local_only(request: Request) -> None:
        if request.client is None or request.client.host not in {"127.0.0.1", "::1"}:
            raise HTTPException(status_code=403, detail="control endpoints are local only")

    @app.post("/_script")
    async def set_script(request: Request) -> dict[str, int]:
        _local_only(request)
        payload = await request.json()
        state.steps = list(payload.get("steps", []))
        if "default" in payload:
            state.default = payload["default"]
        if "latency_ms" in payload:
            state.latency_ms = int(payload["latency_ms"])
        state.reset()
        return {"steps": len(state.steps)}

    @app.get("/_requests")
    async def requests(request: Request) -> list[dict[str, Any]]:
        _local_only(request)
        return list(state.requests)

    @app.get("/_stats")
    async def stats(request: Request) -> dict[str, Any]:
        _local_only(request)
        return {"answered": sum(state.answered.values()), "by_kind": dict(state.answered)}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        state.requests.append(body)
        if state.latency_ms:
            await asyncio.sleep(state.latency_ms / 1000)
        step = state.next_step()
        return await _answer(body, step)

    async def _answer(body: dict[str, Any], step: Step) -> JSONResponse:
        kind = str(step.get("kind", "content"))
        if kind != "slow":  # a slow step is counted as the step it answers with
            state.answered[kind] += 1
        if kind == "slow":
            await asyncio.sleep(float(step.get("seconds", 5)))
            return await _answer(body, step.get("then", {"kind": "content", "content": "late"}))
        if kind == "rate_limit":
            retry_after = str(step.get("retry_after", 1))
            return JSONResponse(
                {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                status_code=429,
                headers={"Retry-After": retry_after},
            )
        if kind == "error":
            status = int(step.get("status", 500))
            return JSONResponse(
                {"error": {"message": "stub failure", "type": "server_error"}}, status_code=status
            )
        if kind == "tool_call":
            return JSONResponse(_tool_call(body, step, json.dumps(step.get("arguments", {}))))
        if kind == "invalid_json":
            return JSONResponse(_tool_call(body, step, '{"intent": "card_arrival", "confid'))
        if kind == "unknown_intent":
            arguments = {"intent": "teleport_my_money", "confidence": 0.9, "summary": "?"}
            return JSONResponse(_tool_call(body, step, json.dumps(arguments)))
        if kind == "gullible":
            return JSONResponse(_gullible(body, step))
        if kind == "review" or (kind == "echo_valid" and is_review_request(body)):
            review = json.dumps(review_arguments(body))
            if body.get("tools"):
                return JSONResponse(_tool_call(body, step, review))
            return JSONResponse(_content(body, review))
        if kind == "echo_valid":
            if body.get("tools"):
                arguments = echo_valid_arguments(body)
                return JSONResponse(_tool_call(body, step, json.dumps(arguments)))
            return JSONResponse(_content(body, echo_valid_reply(body)))
        return JSONResponse(_content(body, str(step.get("content", ""))))

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--script", type=Path, help="JSON file: a list of steps")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every answer")
    parser.add_argument("--gullible", action="store_true", help="default step: gullible")
    parser.add_argument(
        "--echo-valid", action="store_true", help="default step: echo_valid (for load tests)"
    )
    parser.add_argument(
        "--log-limit", type=int, default=None, help="keep only the last N request bodies"
    )
    args = parser.parse_args(argv)
    steps: list[Step] = json.loads(args.script.read_text()) if args.script else []
    default: Step = {"kind": "content", "content": "OK"}
    if args.gullible:
        default = {"kind": "gullible"}
    elif args.echo_valid:
        default = {"kind": "echo_valid"}
    app = create_app(StubState(steps, default, args.latency_ms, args.log_limit))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
