"""The committed JSON Schemas are the contract with producers in any language."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Literal

import pytest

from supportbus_contracts import ALL_EVENTS, Event
from supportbus_contracts.compat import breaking_changes
from supportbus_contracts.schemas import (
    DEFAULT_DIR,
    compatibility_problems,
    export,
    json_schema,
    load_committed,
    schema_file_name,
)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type())
def test_code_stays_backward_compatible_with_committed_schema(event: type[Event]) -> None:
    committed_path = DEFAULT_DIR / schema_file_name(event)
    assert committed_path.exists(), (
        f"{committed_path} is missing: run `python -m supportbus_contracts.schemas`"
    )
    problems = breaking_changes(load_committed(event), json_schema(event))
    assert problems == [], "breaking change; bump the major version (new topic) instead:\n" + (
        "\n".join(problems)
    )


def _base_schema() -> dict[str, Any]:
    return load_committed(ALL_EVENTS[0])


def _request_def(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["$defs"]["SupportRequest"]  # type: ignore[no-any-return]


def test_removing_a_field_is_breaking() -> None:
    new = copy.deepcopy(_base_schema())
    del _request_def(new)["properties"]["subject"]
    assert any("subject: field removed" in p for p in breaking_changes(_base_schema(), new))


def test_retyping_a_field_is_breaking() -> None:
    new = copy.deepcopy(_base_schema())
    _request_def(new)["properties"]["subject"] = {"type": "integer"}
    assert any("subject: type changed" in p for p in breaking_changes(_base_schema(), new))


def test_making_an_optional_field_required_is_breaking() -> None:
    new = copy.deepcopy(_base_schema())
    _request_def(new)["required"].append("locale")
    assert any(
        "locale: optional field made required" in p for p in breaking_changes(_base_schema(), new)
    )


def test_adding_a_required_field_is_breaking() -> None:
    new = copy.deepcopy(_base_schema())
    _request_def(new)["properties"]["tenant"] = {"type": "string"}
    _request_def(new)["required"].append("tenant")
    assert any("tenant: new field is required" in p for p in breaking_changes(_base_schema(), new))


def test_removing_an_enum_value_is_breaking() -> None:
    new = copy.deepcopy(_base_schema())
    _request_def(new)["properties"]["channel"]["enum"].remove("web")
    assert any("enum lost values" in p for p in breaking_changes(_base_schema(), new))


def test_adding_an_optional_field_is_compatible() -> None:
    new = copy.deepcopy(_base_schema())
    _request_def(new)["properties"]["tenant"] = {"type": "string", "default": "main"}
    new["properties"]["trace_parent"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert breaking_changes(_base_schema(), new) == []


def test_adding_an_enum_value_is_compatible() -> None:
    new = copy.deepcopy(_base_schema())
    _request_def(new)["properties"]["channel"]["enum"].append("sms")
    assert breaking_changes(_base_schema(), new) == []


class GapNoted(Event):
    """An event of another package (an agent's), to show the check is not the contracts' own."""

    type: Literal["gap.noted"] = "gap.noted"
    intent: str


def test_any_package_checks_its_own_events_against_its_committed_schemas(
    tmp_path: Path,
) -> None:
    assert compatibility_problems([GapNoted], tmp_path) == {
        "gap.noted.v1.json": [f"{tmp_path / 'gap.noted.v1.json'} is missing: export the schemas"]
    }
    export(tmp_path, [GapNoted])
    assert compatibility_problems([GapNoted], tmp_path) == {}
    committed = json.loads((tmp_path / "gap.noted.v1.json").read_text())
    committed["properties"]["count"] = {"type": "integer"}
    committed["required"].append("count")
    (tmp_path / "gap.noted.v1.json").write_text(json.dumps(committed))
    assert list(compatibility_problems([GapNoted], tmp_path)) == ["gap.noted.v1.json"]
