"""The Kubernetes manifests cannot be applied here (no cluster, no kubectl), so they are read as
kustomize would read them and checked: core objects against the official Kubernetes JSON schemas
(shipped offline by kubernetes-validate), KEDA ScaledObjects against tests/data's schema of the
fields we use, and everything they name against the code: settings, ports, probes, topics,
consumer groups, images."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from pydantic_settings import BaseSettings

from supportbus_classifier import handlers as classifier_handlers
from supportbus_classifier.settings import ClassifierSettings
from supportbus_cli.settings import CliSettings
from supportbus_contracts import topics
from supportbus_helpdesk.settings import HelpdeskSettings
from supportbus_kb_gaps import handlers as kb_gaps_handlers
from supportbus_kb_gaps.settings import KbGapsSettings
from supportbus_responder import handlers as responder_handlers
from supportbus_responder.settings import ResponderSettings
from supportbus_retriever import handlers as retriever_handlers
from supportbus_retriever.settings import RetrieverSettings
from supportbus_ticketer import handlers as ticketer_handlers
from supportbus_ticketer.settings import TicketerSettings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
KUBERNETES_VERSION = "1.33.0"
KEDA_SCHEMA = Path(__file__).parent / "data" / "keda-scaledobject.schema.json"
SETTINGS: dict[str, type[BaseSettings]] = {
    "CLASSIFIER_": ClassifierSettings,
    "RETRIEVER_": RetrieverSettings,
    "TICKETER_": TicketerSettings,
    "RESPONDER_": ResponderSettings,
    "HELPDESK_": HelpdeskSettings,
    "KB_GAPS_": KbGapsSettings,
    "SUPPORTBUS_": CliSettings,
}
# Each consumer, the handlers module that names its service and the topic it consumes.
CONSUMERS = {
    "classifier": (classifier_handlers, topics.REQUEST_RECEIVED),
    "retriever": (retriever_handlers, topics.REQUEST_CLASSIFIED),
    "ticketer": (ticketer_handlers, topics.KNOWLEDGE_RETRIEVED),
    "responder": (responder_handlers, topics.TICKET_CREATED),
    "kb-gaps": (kb_gaps_handlers, topics.KNOWLEDGE_RETRIEVED),
}
PROCESSES = (*CONSUMERS, "helpdesk")
# Agents build from their own directory (agents/<name>/Dockerfile), the services from deploy/docker.
AGENTS = ("kb-gaps",)


def _prefix(process: str) -> str:
    return f"{process.upper().replace('-', '_')}_"


def _kustomization(directory: Path) -> dict[str, Any]:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())  # type: ignore[no-any-return]


def _env_file(path: Path) -> dict[str, str]:
    """A kustomize `envs` file: KEY=VALUE lines, # comments; values taken literally."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _generated_configmaps() -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    for generator in _kustomization(BASE).get("configMapGenerator", []):
        data: dict[str, str] = {}
        for env in generator.get("envs", []):
            data.update(_env_file(BASE / env))
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        maps[generator["name"]] = data
    return maps


def _objects() -> list[dict[str, Any]]:
    objects = []
    for resource in _kustomization(BASE)["resources"]:
        objects += [d for d in yaml.safe_load_all((BASE / resource).read_text()) if d]
    return objects


OBJECTS = _objects()
CONFIGMAPS = _generated_configmaps()


def _find(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in OBJECTS if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def _workloads() -> list[dict[str, Any]]:
    return [o for o in OBJECTS if o["kind"] in ("Deployment", "Job")]


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _main_container(process: str) -> dict[str, Any]:
    return _pod_spec(_find("Deployment", f"supportbus-{process}"))["containers"][0]  # type: ignore[no-any-return]


def _env(container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(CONFIGMAPS[source["configMapRef"]["name"]])
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
    return env


def _settings(process: str, env: dict[str, str]) -> BaseSettings:
    prefix = _prefix(process)
    values = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    return SETTINGS[prefix].model_validate(values)


def _http_port(process: str) -> int:
    settings = _settings(process, _env(_main_container(process)))
    return int(getattr(settings, "port" if process == "helpdesk" else "http_port"))


def _container_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(int(p["containerPort"]) for p in container["ports"] if p.get("name") == port)


def _quantity(value: str | int) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)


def _dockerfile_final_stage(image: str) -> list[tuple[str, str]]:
    name = image.split(":")[0]
    process = name.removeprefix("supportbus-")
    path = (
        ROOT / "Dockerfile"
        if name == "supportbus"
        else ROOT / "agents" / process / "Dockerfile"
        if process in AGENTS
        else ROOT / "deploy" / "docker" / f"{process}.Dockerfile"
    )
    assert path.is_file(), f"image {image}: no Dockerfile builds it ({path})"
    stage: list[tuple[str, str]] = []
    for item in DockerfileParser(fileobj=io.BytesIO(path.read_bytes())).structure:
        if item["instruction"] == "FROM":
            stage = []
        elif item["instruction"] != "COMMENT":
            stage.append((item["instruction"], item["value"]))
    return stage


def _ids(objects: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]


def test_kustomization_lists_exactly_the_files_present() -> None:
    kustomization = _kustomization(BASE)
    listed = set(kustomization["resources"])
    for generator in kustomization.get("configMapGenerator", []):
        listed |= set(generator.get("envs", []))
    present = {
        p.relative_to(BASE).as_posix()
        for p in BASE.rglob("*")
        if p.is_file() and p.name != "kustomization.yaml"
    }
    assert listed == present


def test_overlays_refer_to_existing_files_images_and_objects() -> None:
    images = {c["image"].split(":")[0] for o in _workloads() for c in _containers(o)}
    for overlay in (K8S / "overlays").iterdir():
        kustomization = _kustomization(overlay)
        for resource in kustomization["resources"]:
            assert (overlay / resource).exists(), f"{overlay.name}: {resource}"
        for image in kustomization.get("images", []):
            assert image["name"] in images, f"{overlay.name}: no image {image['name']} in base"
        for patch in kustomization.get("patches", []):
            target = patch["target"]
            matched = [
                o
                for o in OBJECTS
                if o["kind"] == target["kind"]
                and re.fullmatch(target.get("name", ".*"), o["metadata"]["name"])
            ]
            assert matched, f"{overlay.name}: a patch targets nothing: {target}"
            for operation in yaml.safe_load(patch["patch"]):
                if operation["path"] == "/spec/maxReplicaCount":
                    assert operation["value"] <= CliSettings().topic_partitions


CORE_OBJECTS = [o for o in OBJECTS if o["apiVersion"] != "keda.sh/v1alpha1"]


@pytest.mark.parametrize("obj", CORE_OBJECTS, ids=_ids(CORE_OBJECTS))
def test_core_objects_are_valid_kubernetes(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", sorted(CONFIGMAPS))
def test_generated_configmaps_are_valid_kubernetes(name: str) -> None:
    configmap: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap"}
    configmap |= {"metadata": {"name": name}, "data": CONFIGMAPS[name]}
    kubernetes_validate.validate(configmap, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_schemas_reject_a_misspelt_field() -> None:
    deployment = json.loads(json.dumps(_find("Deployment", "supportbus-classifier")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_scaled_objects_match_the_keda_schema() -> None:
    schema = json.loads(KEDA_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    scaled = [o for o in OBJECTS if o["kind"] == "ScaledObject"]
    assert scaled
    for obj in scaled:
        jsonschema.validate(obj, schema, cls=jsonschema.Draft202012Validator)
    typo = json.loads(json.dumps(scaled[0]))
    typo["spec"]["triggers"][0]["metadata"]["consumergroup"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema, cls=jsonschema.Draft202012Validator)


def test_every_configmap_key_is_a_setting_with_a_valid_value() -> None:
    for name, data in CONFIGMAPS.items():
        by_prefix: dict[str, dict[str, str]] = {}
        for variable, value in data.items():
            prefix = next((p for p in SETTINGS if variable.startswith(p)), None)
            assert prefix, f"{name}: {variable} belongs to no settings class"
            field = variable.removeprefix(prefix).lower()
            assert field in SETTINGS[prefix].model_fields, f"{name}: {variable} is not a setting"
            by_prefix.setdefault(prefix, {})[field] = value
        for prefix, values in by_prefix.items():
            SETTINGS[prefix].model_validate(values)


def test_every_variable_a_container_names_is_a_setting() -> None:
    for obj in _workloads():
        for container in _containers(obj):
            names = [v["name"] for v in container.get("env", [])]
            script = " ".join(container.get("command", []) + container.get("args", []))
            names += re.findall(r"os\.environ\[[\"'](\w+)[\"']\]", script)
            for variable in names:
                prefix = next((p for p in SETTINGS if variable.startswith(p)), None)
                assert prefix, f"{container['name']}: {variable} belongs to no settings class"
                field = variable.removeprefix(prefix).lower()
                assert field in SETTINGS[prefix].model_fields, f"{variable} is not a setting"
                assert variable in _env(container) or "valueFrom" in str(container.get("env"))


def test_workloads_read_their_configmap_and_take_secrets_only_from_the_secret() -> None:
    assert not [o for o in OBJECTS if o["kind"] == "Secret"], "no Secret is committed"
    assert "secretGenerator" not in _kustomization(BASE)
    for obj in _workloads():
        for container in _pod_spec(obj)["containers"]:
            sources = container.get("envFrom", [])
            configmaps = [s["configMapRef"]["name"] for s in sources if "configMapRef" in s]
            assert configmaps, container["name"]
            assert all(c in CONFIGMAPS for c in configmaps), container["name"]
            for source in sources:
                if "secretRef" in source:
                    assert source["secretRef"]["name"] == "supportbus-secrets"
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    assert reference["name"] == "supportbus-secrets", variable["name"]
                    # The services start without it (the LLM is off by default).
                    assert reference.get("optional") is True, variable["name"]


def _secret_fields(settings: type[BaseSettings]) -> set[str]:
    return {
        name for name, info in settings.model_fields.items() if "SecretStr" in str(info.annotation)
    }


def test_secret_settings_come_from_the_secret_and_never_from_a_configmap() -> None:
    for name, data in CONFIGMAPS.items():
        for variable in data:
            prefix = next(p for p in SETTINGS if variable.startswith(p))
            field = variable.removeprefix(prefix).lower()
            assert field not in _secret_fields(SETTINGS[prefix]), f"{name}: {variable} is a secret"
    for process in PROCESSES:
        prefix = _prefix(process)
        from_secret = {
            v["name"]
            for v in _main_container(process).get("env", [])
            if "secretKeyRef" in v.get("valueFrom", {})
        }
        expected = {prefix + field.upper() for field in _secret_fields(SETTINGS[prefix])}
        assert from_secret == expected, process


@pytest.mark.parametrize("process", PROCESSES)
def test_probes_ask_healthz_and_readyz_on_the_configured_port(process: str) -> None:
    container = _main_container(process)
    port = _http_port(process)
    assert [int(p["containerPort"]) for p in container["ports"]] == [port]
    readiness = "/healthz" if process == "helpdesk" else "/readyz"
    expected = {
        "livenessProbe": "/healthz",
        "readinessProbe": readiness,
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        if probe == "startupProbe" and probe not in container:
            continue
        http = container[probe]["httpGet"]
        assert http["path"] == path, f"{process}: {probe}"
        assert _container_port(container, http["port"]) == port, f"{process}: {probe}"


@pytest.mark.parametrize("process", PROCESSES)
def test_services_expose_the_container_port_to_their_pods(process: str) -> None:
    deployment = _find("Deployment", f"supportbus-{process}")
    service = _find("Service", f"supportbus-{process}")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    container = _main_container(process)
    for port in service["spec"]["ports"]:
        assert _container_port(container, port["targetPort"]) == _http_port(process)
    if process in CONSUMERS:
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(_http_port(process))
        assert annotations["prometheus.io/path"] == "/metrics"


def test_every_container_has_resource_requests_within_limits() -> None:
    for obj in _workloads():
        for container in _containers(obj):
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = _quantity(resources["requests"][resource])
                limit = _quantity(resources["limits"][resource])
                assert 0 < request <= limit, f"{container['name']}: {resource}"


def test_embedding_threads_fit_the_cpu_limit() -> None:
    for process in ("classifier", "retriever"):
        container = _main_container(process)
        threads = _settings(process, _env(container)).embedding_threads  # type: ignore[attr-defined]
        assert threads is not None, f"{process}: ONNX would use every core of the node"
        assert threads <= max(1, int(_quantity(container["resources"]["limits"]["cpu"])))


def test_pods_run_as_the_non_root_user_of_their_image() -> None:
    for obj in _workloads():
        spec = _pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in _containers(obj):
            stage = _dockerfile_final_stage(container["image"])
            uid = [v for i, v in stage if i == "USER"][-1].split(":")[0]
            assert str(spec["securityContext"]["runAsUser"]) == uid, container["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_images_are_the_ones_our_dockerfiles_build() -> None:
    for obj in _workloads():
        for container in _pod_spec(obj)["containers"]:
            stage = _dockerfile_final_stage(container["image"])
            exposed = {int(v) for i, v in stage if i == "EXPOSE"}
            ports = {int(p["containerPort"]) for p in container.get("ports", [])}
            assert ports == exposed, container["name"]
            entrypoint = [json.loads(v) for i, v in stage if i == "ENTRYPOINT"]
            if entrypoint and "command" not in container:
                name = obj["metadata"]["name"]
                assert entrypoint[-1] == [name], f"{name} runs {entrypoint[-1]}"


def test_every_mounted_volume_is_defined_and_every_claim_exists() -> None:
    claims = {o["metadata"]["name"] for o in OBJECTS if o["kind"] == "PersistentVolumeClaim"}
    for obj in _workloads():
        volumes = {v["name"]: v for v in _pod_spec(obj).get("volumes", [])}
        for container in _containers(obj):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{container['name']}: {mount['name']}"
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        if _pod_spec(obj)["containers"][0]["securityContext"].get("readOnlyRootFilesystem"):
            mounted = {m["mountPath"] for c in _containers(obj) for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounted, f"{obj['metadata']['name']}: nowhere to write temp files"


def _claim_and_mode(obj: dict[str, Any], container: dict[str, Any], path: str) -> tuple[str, bool]:
    volumes = {v["name"]: v for v in _pod_spec(obj)["volumes"]}
    mounts = [
        m for m in container["volumeMounts"] if PurePosixPath(path).is_relative_to(m["mountPath"])
    ]
    assert mounts, f"{container['name']}: {path} is on no volume"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    claim = volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]
    return claim, bool(mount.get("readOnly"))


def test_setup_job_writes_the_artifacts_where_the_services_read_them() -> None:
    job = _find("Job", "supportbus-setup")
    setup = _pod_spec(job)["containers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert setup["command"] == compose["services"]["setup"]["command"], "the same job as compose"
    for process, variable in (
        ("classifier", "CLASSIFIER_MODEL_PATH"),
        ("retriever", "RETRIEVER_INDEX_DIR"),
        ("classifier", "CLASSIFIER_EMBEDDING_MODEL_PATH"),
        ("retriever", "RETRIEVER_EMBEDDING_MODEL_PATH"),
    ):
        deployment = _find("Deployment", f"supportbus-{process}")
        written, read = _env(setup)[variable], _env(_main_container(process))[variable]
        assert written == read, f"{variable}: the job uses {written}, {process} {read}"
        job_claim, _ = _claim_and_mode(job, setup, written)
        service_claim, read_only = _claim_and_mode(deployment, _main_container(process), read)
        assert job_claim == service_claim, variable
        assert read_only, f"{process} only reads {variable}"
    _, job_read_only = _claim_and_mode(job, setup, _env(setup)["CLASSIFIER_MODEL_PATH"])
    assert not job_read_only, "the job writes the model and the index"


def test_ticketer_opens_tickets_in_the_helpdesk_service() -> None:
    url = urlsplit(_env(_main_container("ticketer"))["TICKETER_HELPDESK_URL"])
    service = _find("Service", url.hostname or "")
    assert url.port in [p["port"] for p in service["spec"]["ports"]]


@pytest.mark.parametrize("process", list(CONSUMERS))
def test_keda_scales_each_consumer_on_its_own_group_and_topic(process: str) -> None:
    handlers, topic = CONSUMERS[process]
    scaled = _find("ScaledObject", f"supportbus-{process}")
    deployment = _find("Deployment", f"supportbus-{process}")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert "replicas" not in deployment["spec"], "KEDA owns the replica count"
    settings = _settings(process, _env(_main_container(process)))
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["topic"] == settings.topic(topic)  # type: ignore[attr-defined]
    assert metadata["consumerGroup"] == settings.effective_group_id(handlers.SERVICE)  # type: ignore[attr-defined]
    assert metadata["consumerGroup"] == f"supportbus-{process}"
    assert metadata["bootstrapServers"] == settings.kafka_bootstrap_servers  # type: ignore[attr-defined]
    # KEDA's operator resolves the brokers from its own namespace.
    assert all("." in server.split(":")[0] for server in metadata["bootstrapServers"].split(","))
    assert int(metadata["lagThreshold"]) >= 1
    assert metadata.get("offsetResetPolicy", "latest") == "earliest"  # as the consumers


@pytest.mark.parametrize("process", list(CONSUMERS))
def test_keda_never_runs_more_consumers_than_partitions(process: str) -> None:
    scaled = _find("ScaledObject", f"supportbus-{process}")
    partitions = _settings(process, _env(_main_container(process))).topic_partitions  # type: ignore[attr-defined]
    setup_env = _env(_pod_spec(_find("Job", "supportbus-setup"))["containers"][0])
    setup_partitions = CliSettings.model_validate(
        {
            k.removeprefix("SUPPORTBUS_").lower(): v
            for k, v in setup_env.items()
            if k.startswith("SUPPORTBUS_")
        }
    ).topic_partitions
    assert 1 <= scaled["spec"].get("minReplicaCount", 0) <= scaled["spec"]["maxReplicaCount"]
    assert scaled["spec"]["maxReplicaCount"] <= min(partitions, setup_partitions, 6)
    assert scaled["spec"]["triggers"][0]["metadata"].get("allowIdleConsumers", "false") == "false"


@pytest.mark.parametrize(
    ("process", "variable", "secret"),
    [
        ("helpdesk", "HELPDESK_API_KEYS_FILE", "supportbus-helpdesk-api-keys"),
        ("ticketer", "TICKETER_HELPDESK_API_KEY_FILE", "supportbus-ticketer-helpdesk-key"),
    ],
)
def test_key_files_are_read_only_mounts_of_the_processes_own_secret(
    process: str, variable: str, secret: str
) -> None:
    container = _main_container(process)
    path = Path(_env(container)[variable])
    (mount,) = [m for m in container["volumeMounts"] if path.parent == Path(m["mountPath"])]
    assert mount["readOnly"] is True
    (volume,) = [
        v
        for v in _pod_spec(_find("Deployment", f"supportbus-{process}"))["volumes"]
        if v["name"] == mount["name"]
    ]
    assert volume["secret"]["secretName"] == secret
    # Readable by the pod's group (fsGroup), by nobody else.
    assert volume["secret"]["defaultMode"] == 0o440
    others = [p for p in PROCESSES if p != process]
    for other in others:
        pod = _pod_spec(_find("Deployment", f"supportbus-{other}"))
        assert secret not in str(pod.get("volumes", [])), f"{other} mounts {secret}"


def _apply_additions(document: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    """JSON-patch ``add`` operations (the only kind the overlays use), ``-`` appending."""
    for operation in operations:
        assert operation["op"] == "add", operation
        *parents, last = operation["path"].lstrip("/").split("/")
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if last == "-":
            node.append(operation["value"])
        else:
            node[last] = operation["value"]


def test_the_secured_kafka_overlay_gives_every_process_its_own_principal_and_valid_settings() -> (
    None
):
    import copy

    kustomization = _kustomization(K8S / "overlays" / "secured-kafka")
    patched: dict[str, dict[str, Any]] = {}
    for patch in kustomization["patches"]:
        target = patch["target"]
        obj = copy.deepcopy(_find(target["kind"], target["name"]))
        _apply_additions(obj, yaml.safe_load(patch["patch"]))
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        patched[target["name"]] = obj
    assert set(patched) == {f"supportbus-{p}" for p in (*CONSUMERS, *AGENTS, "setup")}
    users = set()
    for name, obj in patched.items():
        container = _pod_spec(obj)["containers"][0]
        env = {
            **_env(container),
            **{v["name"]: v["value"] for v in container["env"] if "value" in v},
        }
        prefix = next(p for p in SETTINGS if any(k.startswith(p + "KAFKA_SASL") for k in env))
        values = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
        settings = SETTINGS[prefix].model_validate(values)  # e.g. SASL without a password fails
        assert settings.kafka_security_protocol == "SASL_SSL", name
        users.add(settings.kafka_sasl_username)
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert str(Path(settings.kafka_sasl_password_file).parent) in mounts, name
        assert str(Path(settings.kafka_ssl_ca_file).parent) in mounts, name
        secrets = [v["secret"]["secretName"] for v in _pod_spec(obj)["volumes"] if "secret" in v]
        assert f"supportbus-kafka-{settings.kafka_sasl_username.removeprefix('supportbus-')}" in (
            secrets
        ), name
    assert len(users) == len(patched)  # one principal each, none shared
