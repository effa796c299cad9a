"""The images cannot be built here (no Docker engine), so each Dockerfile is read and held against
the code: what it copies exists, what it installs is that service's package, what it runs is a
console script of that package, the port it exposes is the one the service listens on, every
variable it sets is a setting, and the final stage is a slim, compiler-free, non-root image."""

from __future__ import annotations

import fnmatch
import io
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
from dockerfile_parse import DockerfileParser
from pydantic_settings import BaseSettings

from supportbus_classifier.settings import ClassifierSettings
from supportbus_cli.settings import CliSettings
from supportbus_helpdesk.settings import HelpdeskSettings
from supportbus_responder.settings import ResponderSettings
from supportbus_retriever.settings import RetrieverSettings
from supportbus_ticketer.settings import TicketerSettings

ROOT = Path(__file__).resolve().parents[1]
DOCKER_DIR = ROOT / "deploy" / "docker"
SERVICES: dict[str, type[BaseSettings]] = {
    "classifier": ClassifierSettings,
    "retriever": RetrieverSettings,
    "ticketer": TicketerSettings,
    "responder": ResponderSettings,
    "helpdesk": HelpdeskSettings,
}
SETTINGS_BY_PREFIX: dict[str, type[BaseSettings]] = {
    str(cls.model_config.get("env_prefix")): cls for cls in [*SERVICES.values(), CliSettings]
}
# Variables of the image itself rather than of a supportbus service.
IMAGE_VARIABLES = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
COMPILERS = {
    "gcc",
    "g++",
    "cc",
    "c++",
    "clang",
    "build-essential",
    "make",
    "cmake",
    "gfortran",
    "python3-dev",
    "libc6-dev",
    "rustc",
    "cargo",
}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for name, value in self.instructions if name == instruction]

    def env(self) -> dict[str, str]:
        variables: dict[str, str] = {}
        for value in self.values("ENV"):
            for word in shlex.split(value):
                name, _, setting = word.partition("=")
                variables[name] = setting
        return variables

    def copies(self) -> list[tuple[list[str], str]]:
        """(sources, destination) of every COPY/ADD from the build context (not --from)."""
        found = []
        for name, value in self.instructions:
            if name not in ("COPY", "ADD"):
                continue
            words = shlex.split(value)
            if any(w.startswith("--from") for w in words):
                continue
            paths = [w for w in words if not w.startswith("--")]
            found.append((paths[:-1], paths[-1]))
        return found


def parse(path: Path) -> list[Stage]:
    parser = DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))
    stages: list[Stage] = []
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "COMMENT":
            continue
        if instruction == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            stages[-1].instructions.append((instruction, value))
    return stages


def exec_form(value: str) -> list[str]:
    words = json.loads(value)
    assert isinstance(words, list), f"not the exec (JSON) form: {value}"
    return [str(w) for w in words]


def final_stage(service: str) -> Stage:
    return parse(DOCKER_DIR / f"{service}.Dockerfile")[-1]


def workspace() -> dict[str, dict[str, object]]:
    """Workspace member directory -> its [project] table."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # A member may be a glob (``agents/*``), as uv reads it.
    members = [
        path.parent.relative_to(ROOT).as_posix()
        for pattern in root["tool"]["uv"]["workspace"]["members"]
        for path in sorted(ROOT.glob(f"{pattern}/pyproject.toml"))
    ]
    return {
        member: tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]
        for member in members
    }


def package_dir(package: str) -> str:
    return next(d for d, project in workspace().items() if project["name"] == package)


def workspace_closure(package: str) -> set[str]:
    """The member directories ``package`` needs: itself and its workspace dependencies."""
    by_name = {str(project["name"]): d for d, project in workspace().items()}
    needed: set[str] = set()
    pending = [package]
    while pending:
        name = pending.pop()
        if by_name[name] in needed:
            continue
        needed.add(by_name[name])
        for requirement in workspace()[by_name[name]].get("dependencies", []):  # type: ignore[attr-defined]
            dependency = re.split(r"[\[<>=!~;\s]", str(requirement), maxsplit=1)[0]
            if dependency in by_name:
                pending.append(dependency)
    return needed


def script_package(script: str) -> str:
    for project in workspace().values():
        if script in project.get("scripts", {}):  # type: ignore[operator]
            return str(project["name"])
    raise AssertionError(f"no pyproject declares the console script {script!r}")


def default_port(service: str) -> int:
    settings = SERVICES[service]
    name = "port" if service == "helpdesk" else "http_port"
    return int(settings.model_fields[name].default)


def port_variable(service: str) -> str:
    prefix = str(SERVICES[service].model_config.get("env_prefix"))
    return prefix + ("PORT" if service == "helpdesk" else "HTTP_PORT")


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = PurePosixPath(path.rstrip("/")).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.lstrip("/")
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            return True
    return False


service_param = pytest.mark.parametrize("service", list(SERVICES))


def test_there_is_one_dockerfile_per_service_and_no_other() -> None:
    assert {p.name for p in DOCKER_DIR.glob("*.Dockerfile")} == {
        f"{s}.Dockerfile" for s in SERVICES
    }


@service_param
def test_image_is_built_in_stages_on_the_same_slim_python(service: str) -> None:
    stages = parse(DOCKER_DIR / f"{service}.Dockerfile")
    assert len(stages) >= 2, "a builder stage and a final stage"
    assert stages[-1].base == "python:3.11-slim"
    # The venv's interpreter is a symlink to the builder's Python: both stages need the same one.
    assert {s.base for s in stages} == {"python:3.11-slim"}


@pytest.mark.parametrize(
    "dockerfile", [*(f"deploy/docker/{s}.Dockerfile" for s in SERVICES), "Dockerfile"]
)
def test_final_stage_runs_as_a_numeric_non_root_user(dockerfile: str) -> None:
    users = parse(ROOT / dockerfile)[-1].values("USER")
    assert users, f"{dockerfile}: the final stage has no USER and would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"{dockerfile}: USER {uid} is not numeric (runAsNonRoot can't check it)"
    assert int(uid) != 0, f"{dockerfile}: runs as root"


@service_param
def test_final_stage_installs_no_compiler_and_no_package_manager(service: str) -> None:
    for command in final_stage(service).values("RUN"):
        words = set(re.split(r"[\s;&|=]+", command))
        assert not words & COMPILERS, f"{service}: final stage installs {words & COMPILERS}"
        assert "pip" not in words, f"{service}: packages belong in the builder stage"
        assert "apt-get" not in words, f"{service}: the final stage should need no system package"


@pytest.mark.parametrize(
    "dockerfile", [*(f"deploy/docker/{s}.Dockerfile" for s in SERVICES), "Dockerfile"]
)
def test_every_copied_path_exists_in_the_build_context(dockerfile: str) -> None:
    for stage in parse(ROOT / dockerfile):
        for sources, _ in stage.copies():
            for source in sources:
                assert (ROOT / source).exists(), f"{dockerfile}: COPY {source}: no such path"
                if source not in (".", "./"):
                    assert not dockerignored(source), f"{dockerfile}: {source} is in .dockerignore"


@service_param
def test_builder_installs_only_this_service_and_its_workspace_dependencies(service: str) -> None:
    stages = parse(DOCKER_DIR / f"{service}.Dockerfile")
    builder, final = stages[0], stages[-1]
    package = script_package(exec_form(final.values("ENTRYPOINT")[-1])[0])
    syncs = [c for c in builder.values("RUN") if "uv sync" in c]
    assert syncs, f"{service}: the builder never runs uv sync"
    for sync in syncs:
        words = sync.split()
        assert words[words.index("--package") + 1] == package, sync
        assert {"--frozen", "--no-dev", "--no-editable"} <= set(words), sync
    # The members the package needs are in the build context ...
    for member in workspace_closure(package):
        assert not dockerignored(member), f"{service}: {member} is in .dockerignore"
    # ... and only the venv they were installed into reaches the final stage.
    assert [v for i, v in final.instructions if i == "COPY" and "--from" in v] == [
        "--from=builder /opt/venv /opt/venv"
    ]
    assert {
        i for i, v in builder.instructions if i == "ENV" and "UV_PROJECT_ENVIRONMENT=/opt/venv" in v
    } == {"ENV"}


@service_param
def test_entrypoint_is_a_console_script_of_the_installed_package(service: str) -> None:
    entrypoint = exec_form(final_stage(service).values("ENTRYPOINT")[-1])
    assert entrypoint == [f"supportbus-{service}"]
    assert package_dir(script_package(entrypoint[0])).endswith(service)


@service_param
def test_exposed_port_is_the_port_the_service_listens_on(service: str) -> None:
    final = final_stage(service)
    assert final.values("EXPOSE") == [str(default_port(service))]
    assert final.env()[port_variable(service)] == str(default_port(service))
    host_variable = port_variable(service).replace("PORT", "HOST")
    assert final.env()[host_variable] == "0.0.0.0", "reachable from outside the container"


@service_param
def test_healthcheck_asks_healthz_on_the_service_port_with_python(service: str) -> None:
    healthchecks = final_stage(service).values("HEALTHCHECK")
    assert len(healthchecks) == 1
    command = exec_form(healthchecks[0].split(" CMD ", 1)[1].strip())
    assert command[0] == "python", "slim images have no curl or wget"
    script = command[-1]
    assert "/healthz" in script
    assert f"os.environ['{port_variable(service)}']" in script or (
        f":{default_port(service)}/" in script
    )


@service_param
def test_image_environment_names_only_settings(service: str) -> None:
    for variable in final_stage(service).env():
        if variable in IMAGE_VARIABLES:
            continue
        prefix = next((p for p in SETTINGS_BY_PREFIX if variable.startswith(p)), None)
        assert prefix, f"{service}: {variable} belongs to no settings class"
        name = variable.removeprefix(prefix).lower()
        assert name in SETTINGS_BY_PREFIX[prefix].model_fields, f"{service}: {variable}"


@service_param
def test_every_path_default_tied_to_a_checkout_is_set_in_the_image(service: str) -> None:
    """The packages are installed into the venv, not editable: a default computed from the
    checkout (``repo_root()``) or relative to the working directory would point nowhere."""
    settings = SERVICES[service]
    prefix = str(settings.model_config.get("env_prefix"))
    env = final_stage(service).env()
    for name, info in settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        if not isinstance(default, Path):
            continue
        if default.is_absolute() and not default.is_relative_to(ROOT):
            continue
        variable = prefix + name.upper()
        assert variable in env, f"{service}: {variable} defaults to {default}; set it in the image"
        assert env[variable].startswith("/"), f"{service}: {variable} must be absolute"


@service_param
def test_files_the_image_points_at_are_copied_into_it(service: str) -> None:
    final = final_stage(service)
    destinations = [destination for _, destination in final.copies()]
    for variable, value in final.env().items():
        if value.startswith("/app/"):
            assert any(value == d or value.startswith(d.rstrip("/") + "/") for d in destinations), (
                f"{service}: {variable}={value} is not copied into the image"
            )


@service_param
def test_mounted_volumes_are_owned_by_the_image_user(service: str) -> None:
    """A fresh named volume takes the owner of the directory it is mounted on."""
    final = final_stage(service)
    uid = final.values("USER")[-1]
    needs_state = any(v.startswith("/var/lib/supportbus/") for v in final.env().values())
    commands = " ".join(final.values("RUN"))
    if needs_state:
        assert f"chown {uid} /var/lib/supportbus" in commands, service
