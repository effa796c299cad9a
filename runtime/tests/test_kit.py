"""The agent kit is the one import an agent (or a core service) needs, and importing it stays
cheap enough for a declaration module."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from supportbus_runtime import app, declaration, kit


def test_every_name_the_kit_exports_resolves_to_the_runtime_object() -> None:
    assert kit.build_service_app is app.build_service_app
    assert kit.Input is declaration.Input
    for name in kit.__all__:
        assert getattr(kit, name) is not None, name


def test_a_name_the_kit_does_not_export_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="build_broker"):
        kit.build_broker  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_kit_for_a_declaration_loads_no_service_app() -> None:
    code = (
        "import json, sys\n"
        "from supportbus_runtime.kit import Input, Output, ServiceDeclaration\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('faststream', "
        "'supportbus_runtime.app', 'aiokafka')))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []
