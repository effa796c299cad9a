"""Publishing support requests onto the bus, as any producer would."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from supportbus_cli.progress import progress_bar
from supportbus_contracts import RequestReceived, SupportRequest
from supportbus_contracts.topics import REQUEST_RECEIVED
from supportbus_devtools.contracts_topics import pipeline_topics
from supportbus_runtime.broker import build_broker, ensure_topics, publish_event
from supportbus_runtime.errors import PermanentError
from supportbus_runtime.settings import ServiceSettings

_PUBLISH_WINDOW = 256


@dataclass(frozen=True)
class RequestLine:
    request_id: str
    request: SupportRequest


def new_request_id(prefix: str = "req") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def read_requests_file(path: Path) -> list[RequestLine]:
    """One JSON object per line: SupportRequest fields, plus an optional request_id."""
    lines: list[RequestLine] = []
    problems: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            request_id = str(data.pop("request_id", "") or new_request_id())
            lines.append(RequestLine(request_id, SupportRequest.model_validate(data)))
        except (ValueError, AttributeError, ValidationError) as error:
            first = str(error).splitlines()[0] if isinstance(error, ValueError) else str(error)
            if isinstance(error, ValidationError):
                first = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                    for e in error.errors(include_input=False)
                )
            problems.append(f"{path}:{number}: {first}")
    if problems:
        raise PermanentError("invalid requests:\n" + "\n".join(problems))
    return lines


async def publish_requests(
    settings: ServiceSettings,
    lines: Sequence[RequestLine],
    *,
    producer: str = "supportbus-cli",
    show_progress: bool = True,
) -> list[RequestReceived]:
    """Publish each request (key = request_id) and wait for the broker's acknowledgements."""
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        pipeline_topics(settings.topic_prefix),
        security=settings,
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
    )
    broker = build_broker(settings, client_id=producer)
    events = [
        RequestReceived(request_id=line.request_id, request=line.request, producer=producer)
        for line in lines
    ]
    await broker.connect()
    try:
        with progress_bar() as progress:
            task = progress.add_task(
                "publishing requests", total=len(events), visible=show_progress
            )
            # Many acknowledgements awaited at once (bounded), so the producer batches them
            # instead of paying a round trip per request.
            window = asyncio.Semaphore(_PUBLISH_WINDOW)

            async def publish(event: RequestReceived) -> None:
                async with window:
                    await publish_event(broker, settings.topic(REQUEST_RECEIVED), event)
                    progress.advance(task)

            await asyncio.gather(*(publish(event) for event in events))
    finally:
        await broker.stop()
    return events
