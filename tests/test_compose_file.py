"""docker-compose.yml cannot run here (no Docker engine), so keep it honest: everything it names
must exist in the code, and the pieces must agree with each other (ports, volumes, endpoints)."""

from __future__ import annotations

import copy
import io
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from typer.main import get_command

from supportbus_classifier.settings import ClassifierSettings
from supportbus_cli.main import app as cli_app
from supportbus_cli.settings import CliSettings
from supportbus_contracts.topics import all_topics
from supportbus_devtools.localweaviate import DEFAULT_WEAVIATE_VERSION
from supportbus_devtools.workspace import standalone_agents
from supportbus_helpdesk.settings import HelpdeskSettings
from supportbus_kb_gaps.settings import KbGapsSettings
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
    "KB_GAPS_": KbGapsSettings,
    "SUPPORTBUS_": CliSettings,
}
CONSUMERS = ("classifier", "retriever", "ticketer", "responder")
# Agents (agents/<name>/, each with its own Dockerfile there) are checked like the services.
AGENTS = ("kb-gaps",)
# Standalone agents (an environment of their own, where their settings class imports) check
# their own compose service in their own tests (agents/<name>/tests/test_deployment.py).
STANDALONE = standalone_agents(ROOT)
SERVICE_PREFIX = {
    name: f"{name.upper().replace('-', '_')}_" for name in (*CONSUMERS, *AGENTS, "helpdesk")
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def collector() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "otel-collector.yaml").read_text())  # type: ignore[no-any-return]


def _console_scripts() -> set[str]:
    scripts: set[str] = set()
    for pyproject in ROOT.glob("**/pyproject.toml"):
        if ".venv" in pyproject.parts:
            continue
        scripts |= set(tomllib.loads(pyproject.read_text()).get("project", {}).get("scripts", {}))
    return scripts


def _our_services(compose: dict[str, Any]) -> dict[str, Any]:
    return {
        name: s
        for name, s in compose["services"].items()
        if "build" in s and name not in STANDALONE
    }


def _dockerfile(service: dict[str, Any]) -> Path:
    build = service["build"]
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    return ROOT / str(build.get("context", ".")) / str(build.get("dockerfile", "Dockerfile"))


def _final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.read_bytes()))
    stage: list[tuple[str, str]] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            stage = []
        elif item["instruction"] != "COMMENT":
            stage.append((item["instruction"], item["value"]))
    return stage


def _image_env(service: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, value in _final_stage(_dockerfile(service)):
        if instruction == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(value))  # type: ignore[misc]
    return env


def _effective_env(service: dict[str, Any]) -> dict[str, str]:
    """What the process sees: the image's ENV, overridden by the compose environment."""
    return {**_image_env(service), **{k: str(v) for k, v in service.get("environment", {}).items()}}


def _http_port(name: str, service: dict[str, Any]) -> int:
    prefix = SERVICE_PREFIX[name]
    field = "port" if name == "helpdesk" else "http_port"
    configured = _effective_env(service).get(prefix + field.upper())
    return int(configured or SETTINGS[prefix].model_fields[field].default)


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of each volume."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):  # long syntax (a subpath of a volume, for secrets)
            mounts.append((volume["source"], volume["target"], bool(volume.get("read_only"))))
            continue
        source, target, *mode = volume.split(":")
        mounts.append((source, target, mode == ["ro"]))
    return mounts


def _volume_holding(service: dict[str, Any], path: str) -> tuple[str, bool]:
    """The source (named volume or host path) that ``path`` lives on in this container."""
    matches = [m for m in _mounts(service) if path == m[1] or path.startswith(m[1] + "/")]
    assert matches, f"{path} is on no volume"
    source, _, read_only = max(matches, key=lambda m: len(m[1]))
    return source, read_only


def test_compose_runs_kafka_weaviate_observability_helpdesk_and_the_four_services(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.1")
    others = ("setup", "otel-collector", "jaeger", "prometheus")
    for name in ("helpdesk", *CONSUMERS, *AGENTS, *STANDALONE, *others):
        assert name in services
    assert services["otel-collector"]["image"].startswith("otel/opentelemetry-collector-contrib:")
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")


def test_weaviate_is_pinned_anonymous_and_has_no_vectorizer(compose: dict[str, Any]) -> None:
    weaviate = compose["services"]["weaviate"]
    # The same server version the tests build and run locally.
    assert weaviate["image"] == f"semitechnologies/weaviate:{DEFAULT_WEAVIATE_VERSION}"
    env = weaviate["environment"]
    assert env["AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"] == "true"
    assert env["DEFAULT_VECTORIZER_MODULE"] == "none"


def test_the_retriever_points_at_the_compose_weaviate(compose: dict[str, Any]) -> None:
    url = urlsplit(compose["services"]["retriever"]["environment"]["RETRIEVER_WEAVIATE_URL"])
    weaviate = compose["services"]["weaviate"]
    assert url.hostname == "weaviate"
    command = weaviate["command"]
    assert url.port == int(command[command.index("--port") + 1])


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        assert ":" in image, f"{name}: pin {image}"
        assert not image.endswith(":latest"), f"{name}: pin {image}"


def test_every_built_service_names_an_existing_dockerfile(compose: dict[str, Any]) -> None:
    for name, service in _our_services(compose).items():
        dockerfile = _dockerfile(service)
        assert dockerfile.is_file(), f"{name}: no {dockerfile}"
        build = service["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        assert (ROOT / context).resolve() == ROOT, f"{name}: build from the repository root"
        if name in (*CONSUMERS, "helpdesk"):
            assert dockerfile == ROOT / "deploy" / "docker" / f"{name}.Dockerfile"
            assert service["image"].split(":")[0] == f"supportbus-{name}"
        if name in AGENTS:
            assert dockerfile == ROOT / "agents" / name / "Dockerfile"
            assert service["image"].split(":")[0] == f"supportbus-{name}"


def test_every_command_is_a_console_script_or_cli_subcommand(compose: dict[str, Any]) -> None:
    scripts = _console_scripts()
    cli_commands = set(get_command(cli_app).commands)  # type: ignore[attr-defined]
    for name, service in _our_services(compose).items():
        command = service.get("command")
        if command is None:  # the image's ENTRYPOINT runs
            entrypoints = [v for i, v in _final_stage(_dockerfile(service)) if i == "ENTRYPOINT"]
            assert entrypoints, f"{name}: neither a command nor an ENTRYPOINT"
            command = json.loads(entrypoints[-1])
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


def _settings_checked(compose: dict[str, Any]) -> dict[str, list[str]]:
    """Per service, the settings its effective environment sets; raises on a variable that
    is no setting or a value its settings class refuses."""
    checked: dict[str, list[str]] = {}
    for name, service in _our_services(compose).items():
        for variable in service.get("environment", {}):
            prefix = next((p for p in SETTINGS if variable.startswith(p)), None)
            assert prefix, f"{name}: {variable} belongs to no settings class"
            field = variable.removeprefix(prefix).lower()
            assert field in SETTINGS[prefix].model_fields, f"{name}: {variable} is not a setting"
        by_prefix: dict[str, dict[str, str]] = {}
        for variable, value in _effective_env(service).items():
            prefix = next((p for p in SETTINGS if variable.startswith(p)), None)
            if prefix:
                by_prefix.setdefault(prefix, {})[variable.removeprefix(prefix).lower()] = value
        for prefix, values in by_prefix.items():
            SETTINGS[prefix].model_validate(values)  # raises on e.g. an unknown log format
            checked.setdefault(name, []).extend(prefix + field.upper() for field in values)
    return checked


def test_every_service_sets_only_valid_settings(compose: dict[str, Any]) -> None:
    checked = _settings_checked(compose)
    # Each built service configures itself through its own prefix: an empty or missing
    # environment would leave nothing checked, and the compose file would be wrong.
    assert set(checked) == set(_our_services(compose))
    for name, prefix in SERVICE_PREFIX.items():
        assert any(v.startswith(prefix) for v in checked[name]), name


def test_an_unknown_variable_or_invalid_value_is_caught(compose: dict[str, Any]) -> None:
    unknown = copy.deepcopy(compose)
    unknown["services"]["ticketer"]["environment"]["TICKETER_NO_SUCH_SETTING"] = "1"
    with pytest.raises(AssertionError, match="TICKETER_NO_SUCH_SETTING is not a setting"):
        _settings_checked(unknown)
    invalid = copy.deepcopy(compose)
    invalid["services"]["ticketer"]["environment"]["TICKETER_MAX_IN_FLIGHT"] = "many"
    with pytest.raises(ValidationError, match="max_in_flight"):
        _settings_checked(invalid)


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


def test_services_listen_on_all_interfaces(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*CONSUMERS, *AGENTS):
        assert _effective_env(services[name])[f"{SERVICE_PREFIX[name]}HTTP_HOST"] == "0.0.0.0", name
    assert _effective_env(services["helpdesk"])["HELPDESK_HOST"] == "0.0.0.0"


def test_long_running_services_restart_and_have_healthchecks(compose: dict[str, Any]) -> None:
    for name in (*CONSUMERS, *AGENTS, "helpdesk", "kafka"):
        service = compose["services"][name]
        assert service.get("restart") in ("unless-stopped", "always", "on-failure"), name
        assert service["healthcheck"]["test"], name


def test_healthchecks_ask_each_service_on_its_configured_port(compose: dict[str, Any]) -> None:
    for name in (*CONSUMERS, *AGENTS, "helpdesk"):
        service = compose["services"][name]
        urls = re.findall(r"https?://[^'\" ]+", " ".join(service["healthcheck"]["test"]))
        assert urls, f"{name}: the healthcheck asks no URL"
        for url in urls:
            parts = urlsplit(url)
            assert parts.port == _http_port(name, service), f"{name}: {url}"
            expected = "/healthz" if name == "helpdesk" else "/readyz"
            assert parts.path == expected, f"{name}: {url}"


def test_prometheus_scrapes_exactly_the_services_and_agents_on_their_ports(
    compose: dict[str, Any], prometheus: dict[str, Any]
) -> None:
    scraped: dict[str, int] = {}
    for job in prometheus["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics", job["job_name"]
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                scraped[host] = int(port)
        for dns in job.get("dns_sd_configs", []):
            for host in dns["names"]:
                scraped[host] = int(dns["port"])
    assert set(scraped) == {*CONSUMERS, *AGENTS, *STANDALONE}
    for name, port in scraped.items():
        if name not in STANDALONE:
            assert port == _http_port(name, compose["services"][name]), name
    mounts = [m[0] for m in _mounts(compose["services"]["prometheus"])]
    assert "./deploy/prometheus.yml" in mounts


def test_services_export_traces_to_the_compose_collector(
    compose: dict[str, Any], collector: dict[str, Any]
) -> None:
    services = compose["services"]
    grpc_endpoint = collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    for name in (*CONSUMERS, *AGENTS, "helpdesk"):
        env = _effective_env(services[name])
        prefix = SERVICE_PREFIX[name]
        assert env[prefix + "TELEMETRY_EXPORTER"] == "otlp-grpc", name
        endpoint = urlsplit(env[prefix + "OTLP_ENDPOINT"])
        assert endpoint.hostname in services, f"{name}: {endpoint.hostname} is no compose service"
        assert services[endpoint.hostname]["image"].startswith("otel/opentelemetry-collector")
        assert endpoint.port == int(grpc_endpoint.rsplit(":", 1)[1]), name
    mounts = [m[0] for m in _mounts(services["otel-collector"])]
    assert "./deploy/otel-collector.yaml" in mounts


def test_collector_forwards_traces_to_jaeger_over_otlp(
    compose: dict[str, Any], collector: dict[str, Any]
) -> None:
    pipelines = collector["service"]["pipelines"]
    assert "traces" in pipelines
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in collector[kind], f"{component} is not defined in {kind}"
    exporters = [collector["exporters"][e] for e in pipelines["traces"]["exporters"]]
    hosts = {urlsplit(f"//{e['endpoint']}").hostname for e in exporters if "endpoint" in e}
    assert hosts == {"jaeger"}
    jaeger = compose["services"]["jaeger"]
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert "16686:16686" in jaeger["ports"]


def test_setup_writes_the_artifacts_where_the_services_read_them(compose: dict[str, Any]) -> None:
    services = compose["services"]
    setup = services["setup"]
    for name, variable in (
        ("classifier", "CLASSIFIER_MODEL_PATH"),
        ("retriever", "RETRIEVER_INDEX_DIR"),
        ("classifier", "CLASSIFIER_EMBEDDING_MODEL_PATH"),
        ("retriever", "RETRIEVER_EMBEDDING_MODEL_PATH"),
    ):
        written = setup["environment"][variable]
        read = _effective_env(services[name])[variable]
        assert written == read, f"setup uses {variable}={written}, {name} {read}"
        setup_source, _ = _volume_holding(setup, written)
        service_source, read_only = _volume_holding(services[name], read)
        assert setup_source == service_source, f"{variable}: not the same volume"
        assert read_only, f"{name} only reads {variable}"


def test_named_volumes_are_declared_and_repo_files_exist(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for source, _, _ in _mounts(service):
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            elif not source.startswith(("/", "../")):
                assert source in declared, f"{name}: volume {source} is not declared"


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
    assert int(env["KAFKA_NUM_PARTITIONS"]) == CliSettings().topic_partitions


def test_the_helpdesk_and_the_ticketer_each_mount_only_their_own_key_files(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    keys_file = _effective_env(services["helpdesk"])["HELPDESK_API_KEYS_FILE"]
    key_file = _effective_env(services["ticketer"])["TICKETER_HELPDESK_API_KEY_FILE"]
    for name, path, subpath in (
        ("helpdesk", keys_file, "helpdesk"),
        ("ticketer", key_file, "ticketer"),
    ):
        (mount,) = [v for v in services[name]["volumes"] if isinstance(v, dict)]
        assert mount["source"] == "helpdesk-keys"
        assert mount["volume"]["subpath"] == subpath  # not the other's files, nor the operator's
        assert mount["read_only"] is True
        assert path.startswith(mount["target"] + "/")
    maker = " ".join(services["helpdesk-keys"]["command"])
    assert f"--key-out /keys/ticketer/{Path(key_file).name}" in maker
    assert f"--keys-file /keys/helpdesk/{Path(keys_file).name}" in maker
    assert services["helpdesk"]["depends_on"]["helpdesk-keys"] == {
        "condition": "service_completed_successfully"
    }


def test_the_secured_kafka_override_gives_every_process_its_own_principal(
    compose: dict[str, Any],
) -> None:
    override = yaml.safe_load((ROOT / "deploy" / "compose" / "secured-kafka.yml").read_text())
    declared = override["secrets"]
    users = set()
    for name, service in override["services"].items():
        assert name in compose["services"], name
        prefix = next(p for p in SETTINGS if any(k.startswith(p) for k in service["environment"]))
        values = {
            k.removeprefix(prefix).lower(): v
            for k, v in service["environment"].items()
            if k.startswith(prefix)
        }
        values["kafka_bootstrap_servers"] = "broker:9093"  # the ${KAFKA_BOOTSTRAP} placeholder
        settings = SETTINGS[prefix].model_validate(values)
        assert settings.kafka_security_protocol == "SASL_SSL", name
        users.add(settings.kafka_sasl_username)
        for path in (settings.kafka_sasl_password_file, settings.kafka_ssl_ca_file):
            secret = Path(path).name
            assert secret in service["secrets"], (name, secret)
            assert declared[secret]["file"].startswith("./deploy/secrets/"), secret
    assert len(users) == len(override["services"])
    assert "/deploy/secrets/" in (ROOT / ".gitignore").read_text().splitlines()
