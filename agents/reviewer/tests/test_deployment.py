"""The reviewer's own deployment files, checked here because only this environment imports its
settings (the workspace's compose test leaves standalone agents to their own tests): the compose
service, its image's Dockerfile and the Prometheus job."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from supportbus_reviewer.settings import ReviewerSettings

AGENT = Path(__file__).resolve().parents[1]
ROOT = AGENT.parents[1]
PREFIX = "REVIEWER_"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def _image_env() -> dict[str, str]:
    """The final stage's ENV of the agent's Dockerfile (``KEY=value`` pairs)."""
    final = (AGENT / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV (.*?)(?<!\\)$", final, re.MULTILINE | re.DOTALL):
        env.update(re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")))
    return env


def _settings_from(env: dict[str, str]) -> ReviewerSettings:
    """The settings the agent reads from ``env``; every REVIEWER_ variable must be a setting."""
    values = {k.removeprefix(PREFIX).lower(): v for k, v in env.items() if k.startswith(PREFIX)}
    unknown = set(values) - set(ReviewerSettings.model_fields)
    assert not unknown, f"not settings: {sorted(unknown)}"
    return ReviewerSettings.model_validate(values)


def test_the_compose_service_builds_this_agents_image_and_sets_only_valid_settings(
    compose: dict[str, Any],
) -> None:
    service = compose["services"]["reviewer"]
    assert service["build"] == {"context": ".", "dockerfile": "agents/reviewer/Dockerfile"}
    assert service["image"] == "supportbus-reviewer:dev"
    assert service["profiles"] == ["reviewer"]  # it needs an LLM: not in a plain `up`
    environment = {k: str(v) for k, v in service["environment"].items()}
    settings = _settings_from({**_image_env(), **environment})
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 9106)
    assert settings.telemetry_exporter == "otlp-grpc"
    assert urlsplit(settings.otlp_endpoint).hostname in compose["services"]
    assert settings.kb_dir == Path("/app/data/kb")


def test_the_default_llm_is_the_compose_stub(compose: dict[str, Any]) -> None:
    services = compose["services"]
    url = services["reviewer"]["environment"]["REVIEWER_LLM_BASE_URL"]
    assert url == "${REVIEWER_LLM_BASE_URL:-http://llm-stub:8787/v1}"
    stub = services["llm-stub"]
    assert stub["profiles"] == ["reviewer"]
    command = stub["command"]
    assert command[0] == "supportbus-llm-stub"
    assert command[command.index("--port") + 1] == "8787"


def test_the_healthcheck_and_prometheus_ask_the_configured_port(compose: dict[str, Any]) -> None:
    port = int(compose["services"]["reviewer"]["environment"]["REVIEWER_HTTP_PORT"])
    (url,) = re.findall(
        r"https?://[^'\" ]+", " ".join(compose["services"]["reviewer"]["healthcheck"]["test"])
    )
    assert (urlsplit(url).port, urlsplit(url).path) == (port, "/readyz")
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "reviewer"]
    assert job["dns_sd_configs"] == [{"names": ["reviewer"], "type": "A", "port": port}]


def test_the_image_runs_this_agents_console_script_as_a_non_root_user() -> None:
    dockerfile = (AGENT / "Dockerfile").read_text()
    scripts = tomllib.loads((AGENT / "pyproject.toml").read_text())["project"]["scripts"]
    assert 'ENTRYPOINT ["supportbus-reviewer"]' in dockerfile
    assert "supportbus-reviewer" in scripts
    assert "USER 10001:10001" in dockerfile
    # Built from the agent's own lockfile, without dev tools, nothing editable.
    assert "uv sync --frozen --no-dev --no-editable --directory agents/reviewer" in dockerfile
