"""Export every event's JSON Schema to committed files, and read them back.

Run ``python -m supportbus_contracts.schemas [DIR]`` after a compatible change to refresh them; the
compatibility test compares the code against these files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

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


def export(directory: Path = DEFAULT_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event in ALL_EVENTS:
        path = directory / schema_file_name(event)
        path.write_text(json.dumps(json_schema(event), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def load_committed(event: type[Event], directory: Path = DEFAULT_DIR) -> dict[str, Any]:
    return json.loads((directory / schema_file_name(event)).read_text())  # type: ignore[no-any-return]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    for written_path in export(target):
        print(written_path)
