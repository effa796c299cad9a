"""Export events' JSON Schemas to committed files, read them back, and check the code against
them: for the contracts' own events and for any package (an agent) that defines its own.

Run ``python -m supportbus_contracts.schemas [DIR]`` after a compatible change to refresh the
contracts' files; an agent runs ``python -m supportbus_contracts.schemas DIR module:EVENTS``
(``EVENTS`` a sequence of its event classes). Its test then asserts
``compatibility_problems(EVENTS, DIR) == {}``, the same rule the contracts' test applies.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from supportbus_contracts.compat import breaking_changes
from supportbus_contracts.envelope import Event
from supportbus_contracts.events import ALL_EVENTS

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_file_name(event: type[Event]) -> str:
    major = event.model_fields["version"].default.split(".")[0]
    return f"{event.event_type()}.v{major}.json"


def json_schema(event: type[Event]) -> dict[str, Any]:
    schema = event.model_json_schema(mode="validation")
    schema["$id"] = f"https://supportbus.dev/schemas/{schema_file_name(event)}"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def export(directory: Path = DEFAULT_DIR, events: Sequence[type[Event]] = ALL_EVENTS) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event in events:
        path = directory / schema_file_name(event)
        path.write_text(json.dumps(json_schema(event), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def load_committed(event: type[Event], directory: Path = DEFAULT_DIR) -> dict[str, Any]:
    return json.loads((directory / schema_file_name(event)).read_text())  # type: ignore[no-any-return]


def compatibility_problems(events: Sequence[type[Event]], directory: Path) -> dict[str, list[str]]:
    """Per schema file, what the code breaks for data or consumers written against the committed
    schema (a missing file is a problem too); empty when every event is compatible."""
    problems: dict[str, list[str]] = {}
    for event in events:
        name = schema_file_name(event)
        if not (directory / name).exists():
            problems[name] = [f"{directory / name} is missing: export the schemas"]
            continue
        found = breaking_changes(load_committed(event, directory), json_schema(event))
        if found:
            problems[name] = found
    return problems


def _events(reference: str) -> Sequence[type[Event]]:
    module, _, attribute = reference.partition(":")
    events: Sequence[type[Event]] = getattr(importlib.import_module(module), attribute)
    return events


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    chosen = _events(sys.argv[2]) if len(sys.argv) > 2 else ALL_EVENTS
    for written_path in export(target, chosen):
        print(written_path)
