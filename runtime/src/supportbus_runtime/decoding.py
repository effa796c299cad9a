"""Turning a record's bytes into a validated event, with reasons that never echo the payload."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from supportbus_contracts.envelope import Event
from supportbus_runtime.errors import MessageRejected
from supportbus_runtime.pii import redact

E = TypeVar("E", bound=Event)

_MAX_ERRORS_SHOWN = 5


def decode_event(event_type: type[E], body: bytes, max_bytes: int) -> E:
    if len(body) > max_bytes:
        raise MessageRejected(
            "MessageTooLarge", f"record of {len(body):,} bytes exceeds the {max_bytes:,}-byte limit"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MessageRejected(
            "InvalidEncoding", f"record is not valid UTF-8 (bad byte at position {error.start})"
        ) from error
    try:
        return event_type.model_validate_json(text)
    except ValidationError as error:
        raise MessageRejected(*_explain(event_type, error)) from error


def _explain(event_type: type[Event], error: ValidationError) -> tuple[str, str]:
    # include_input=False: pydantic would otherwise quote the customer's text in the reason.
    problems = error.errors(include_input=False, include_url=False)
    if any(p["type"] == "json_invalid" for p in problems):
        detail = next(p["msg"] for p in problems if p["type"] == "json_invalid")
        return "MalformedJson", f"record is not valid JSON: {detail}"
    # A location can carry customer data too (a metadata key that is an e-mail address): each
    # part is redacted alone, so the path to it stays readable (request.metadata.[email]).
    shown = [
        f"{'.'.join(redact(str(part)) for part in p['loc']) or '<root>'}: {p['msg']}"
        for p in problems[:_MAX_ERRORS_SHOWN]
    ]
    more = len(problems) - len(shown)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "SchemaValidationError", (
        f"not a valid {event_type.__name__} ({event_type.event_type()} v1): "
        + "; ".join(shown)
        + suffix
    )
