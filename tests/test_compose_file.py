"""docker-compose.yml cannot run here (no Docker engine), so keep it honest: everything it names
must exist in the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from typer.main import get_command

from supportbus_classifier.settings import ClassifierSettings
from supportbus_cli.main import app as cli_app
from supportbus_cli.settings import CliSettings
from supportbus_contracts.topics import all_topics
from supportbus_helpdesk.settings import HelpdeskSettings
from supportbus_responder.settings import ResponderSettings
from supportbus_retriever.settings import RetrieverSettings
from supportbus_ticketer.settings import TicketerSettings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS: dict[str, type[BaseSettings]] = {
    "CLASSIFIER_": ClassifierSettings,
    "RETRIEVER_": RetrieverSettings,
    "TICKETER_": TicketerSettings,
    "RESPONDER_": ResponderSettings,
    "HELPDESK_": HelpdeskSettings,
    "SUPPORTBUS_": CliSettings,
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def _console_scripts() -> set[str]:
    scripts: set[str] = set()
    for pyproject in ROOT.glob("**/pyproject.toml"):
        if ".venv" in pyproject.parts:
            continue
        scripts |= set(tomllib.loads(pyproject.read_text()).get("project", {}).get("scripts", {}))
    return scripts


def _our_services(compose: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in compose["services"].items() if "build" in s}


def test_compose_runs_kafka_helpdesk_and_the_four_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.1")
    for name in ("helpdesk", "classifier", "retriever", "ticketer", "responder"):
        assert name in services


def test_every_command_is_a_console_script_or_cli_subcommand(compose: dict[str, Any]) -> None:
    scripts = _console_scripts()
    cli_commands = set(get_command(cli_app).commands)  # type: ignore[attr-defined]
    for name, service in _our_services(compose).items():
        command = service["command"]
        words = command if command[0] != "sh" else command[2].replace("&&", " ").split()
        programs = [w for w in words if w.startswith("supportbus")]
        assert programs, name
        for index, word in enumerate(words):
            if word.startswith("supportbus"):
                assert word in scripts, f"{name}: no console script {word}"
                if word == "supportbus":
                    assert words[index + 1] in cli_commands, (
                        f"{name}: no `supportbus {words[index + 1]}`"
                    )


def test_every_environment_variable_is_a_setting(compose: dict[str, Any]) -> None:
    for name, service in _our_services(compose).items():
        for variable in service.get("environment", {}):
            prefix = next((p for p in SETTINGS if variable.startswith(p)), None)
            assert prefix, f"{name}: {variable} belongs to no settings class"
            field = variable.removeprefix(prefix).lower()
            assert field in SETTINGS[prefix].model_fields, f"{name}: {variable} is not a setting"


def test_services_point_at_the_compose_kafka_and_helpdesk(compose: dict[str, Any]) -> None:
    for name, service in _our_services(compose).items():
        env = service.get("environment", {})
        for variable, value in env.items():
            if variable.endswith("KAFKA_BOOTSTRAP_SERVERS"):
                assert value == "kafka:9092", name
    helpdesk_port = compose["services"]["helpdesk"]["environment"]["HELPDESK_PORT"]
    assert compose["services"]["ticketer"]["environment"]["TICKETER_HELPDESK_URL"] == (
        f"http://helpdesk:{helpdesk_port}"
    )


def test_dependencies_name_existing_services(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"


def test_topics_named_anywhere_exist() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for topic in re.findall(r"support\.[a-z.]+\.v\d+(?:\.dlq)?", text):
        assert topic in all_topics()


def test_broker_matches_what_the_code_expects(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics are created explicitly
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) >= 2 * CliSettings().max_message_bytes
