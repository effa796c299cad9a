"""`supportbus new-agent`: names, topics, rendering, the root pyproject edit, and one run of the
whole scaffold in a copy of the workspace whose generated tests, ruff and mypy must pass."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportbus_cli.main import app
from supportbus_cli.new_agent import (
    MAX_NAME_LENGTH,
    AgentNames,
    consumed,
    render,
    snippet,
    sort_first_party_imports,
    topic_of,
    validate_name,
    with_agent,
)
from supportbus_cli.new_agent_pyproject import without_agent
from supportbus_contracts import ALL_EVENTS, RequestClassified
from supportbus_contracts.topics import PIPELINE_TOPICS, REQUEST_CLASSIFIED, TICKET_CREATED
from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.settings import repo_root

runner = CliRunner()
ROOT = repo_root()
LONGEST = "a" * (MAX_NAME_LENGTH - 2) + "-b"


def _ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed")
    return found


def test_names_follow_from_the_agent_name() -> None:
    names = validate_name("vip-watch", ROOT)
    assert (names.package, names.distribution, names.env_prefix) == (
        "supportbus_vip_watch",
        "supportbus-vip-watch",
        "VIP_WATCH_",
    )
    assert (names.event_class, names.event_topic) == ("VipWatchNoted", "support.vip-watch.noted.v1")


@pytest.mark.parametrize(
    "name",
    [
        "VipWatch",
        "9lives",
        "vip_watch",
        "vip-",
        "vip--watch",
        "-vip",
        "",
        "vip watch",
        LONGEST + "c",
    ],
)
def test_a_malformed_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="lowercase letters, digits and single hyphens"):
        validate_name(name, ROOT)


@pytest.mark.parametrize("name", ["responder", "classifier", "helpdesk", "llm-stub", "cli"])
def test_a_core_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="the name of a supportbus package"):
        validate_name(name, ROOT)


def test_an_existing_agent_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "agents" / "vip-watch").mkdir(parents=True)
    with pytest.raises(ConfigurationError, match="agents/vip-watch already exists"):
        validate_name("vip-watch", tmp_path)


@pytest.mark.parametrize("topic", PIPELINE_TOPICS)
def test_each_pipeline_topic_maps_to_the_event_it_carries(topic: str) -> None:
    source = consumed(topic)
    assert topic_of(source.event) == topic
    assert source.event in ALL_EVENTS


def test_the_handler_is_named_after_the_event_it_takes() -> None:
    assert consumed(REQUEST_CLASSIFIED).event is RequestClassified
    assert consumed(TICKET_CREATED).handler == "on_ticket_created"


@pytest.mark.parametrize("topic", ["support.request.classified.v1.dlq", "orders.v1", "gap.v1"])
def test_an_unknown_topic_is_refused_with_the_known_ones(topic: str) -> None:
    with pytest.raises(ConfigurationError, match=r"support\.request\.received\.v1, "):
        consumed(topic)


def test_the_root_pyproject_gets_the_agent_and_keeps_everything_else() -> None:
    before = (ROOT / "pyproject.toml").read_text()
    after = with_agent(before, AgentNames("vip-watch"))
    old, new = tomllib.loads(before), tomllib.loads(after)
    assert new["project"]["dependencies"] == [
        *old["project"]["dependencies"],
        "supportbus-vip-watch",
    ]
    assert new["tool"]["uv"]["sources"] == {
        **old["tool"]["uv"]["sources"],
        "supportbus-vip-watch": {"workspace": True},
    }
    removed = [line for line in after.splitlines() if "vip-watch" not in line]
    assert removed == before.splitlines()
    with pytest.raises(ConfigurationError, match="already depends on supportbus-vip-watch"):
        with_agent(after, AgentNames("vip-watch"))


def test_a_pyproject_without_the_agents_glob_is_not_a_workspace_root() -> None:
    text = '[project]\nname = "x"\ndependencies = [\n]\n[tool.uv.workspace]\nmembers = ["a"]\n'
    with pytest.raises(ConfigurationError, match='do not include "agents/\\*"'):
        with_agent(text, AgentNames("vip-watch"))


def test_a_standalone_agent_is_added_to_the_workspaces_exclude_and_nothing_else() -> None:
    before = (ROOT / "pyproject.toml").read_text()
    after = without_agent(before, AgentNames("vip-watch"))
    old, new = tomllib.loads(before), tomllib.loads(after)
    excluded = old["tool"]["uv"]["workspace"]["exclude"]
    assert new["tool"]["uv"]["workspace"]["exclude"] == [*excluded, "agents/vip-watch"]
    assert {**new, "tool": None} == {**old, "tool": None}
    assert new["tool"]["uv"]["sources"] == old["tool"]["uv"]["sources"]
    with pytest.raises(ConfigurationError, match="already excludes agents/vip-watch"):
        without_agent(after, AgentNames("vip-watch"))


def test_a_workspace_without_an_exclude_list_gets_one() -> None:
    text = '[tool.uv.workspace]\nmembers = ["agents/*"]\n\n[tool.ruff]\nx = 1\n'
    after = without_agent(text, AgentNames("vip-watch"))
    assert tomllib.loads(after)["tool"]["uv"]["workspace"]["exclude"] == ["agents/vip-watch"]
    assert tomllib.loads(after)["tool"]["ruff"] == {"x": 1}


def test_a_standalone_agent_gets_its_own_pyproject_and_a_dockerfile_from_its_lockfile() -> None:
    files = render(AgentNames("vip-watch"), consumed(TICKET_CREATED), standalone=True)
    member = render(AgentNames("vip-watch"), consumed(TICKET_CREATED))
    assert set(files) == set(member)
    project = tomllib.loads(files[Path("agents/vip-watch/pyproject.toml")])
    assert project["tool"]["uv"]["sources"]["supportbus-runtime"] == {
        "path": "../../runtime",
        "editable": True,
    }
    assert "supportbus-devtools" in project["dependency-groups"]["dev"]
    dockerfile = files[Path("agents/vip-watch/Dockerfile")]
    assert "uv sync --frozen --no-dev --no-editable --directory agents/vip-watch" in dockerfile
    assert "--package" not in dockerfile
    # The code and the tests are the same either way.
    source = Path("agents/vip-watch/src/supportbus_vip_watch/handlers.py")
    assert files[source] == member[source]


def test_first_party_imports_are_put_in_module_order() -> None:
    zed = "from supportbus_zed.app import build_app\n"
    contracts = "from supportbus_contracts import (\n    Event,\n)\n"
    runtime = "from supportbus_runtime.kit import Route\n"
    source = f"import os\n\n{zed}{contracts}{runtime}\nX = 1\n"
    assert sort_first_party_imports(source) == f"import os\n\n{contracts}{runtime}{zed}\nX = 1\n"


@pytest.mark.parametrize("name", ["a", "mid", "zed", LONGEST])
@pytest.mark.parametrize("topic", PIPELINE_TOPICS)
def test_every_rendering_is_ruff_clean(tmp_path: Path, name: str, topic: str) -> None:
    """Wherever the agent's package sorts among the workspace's (isort) and however long its
    name, for every topic: valid Python, ruff-clean with the workspace's settings."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    files = render(AgentNames(name), consumed(topic))
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
        if relative.suffix == ".py":
            ast.parse(text, filename=str(relative))
    assert {str(p.relative_to(f"agents/{name}")) for p in files} >= {
        "pyproject.toml",
        "Dockerfile",
        f"tests/test_{name.replace('-', '_')}.py",
        *(
            f"src/supportbus_{name.replace('-', '_')}/{module}.py"
            for module in ("events", "declaration", "settings", "handlers", "app", "main")
        ),
    }
    checked = subprocess.run(
        [_ruff(), "check", "--no-cache", "agents"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_snippets_name_the_agent_its_image_and_its_prefix() -> None:
    names, source = AgentNames("vip-watch"), consumed(TICKET_CREATED)
    compose = snippet("docker-compose.yml", names, source)
    assert "dockerfile: agents/vip-watch/Dockerfile" in compose
    assert "VIP_WATCH_KAFKA_BOOTSTRAP_SERVERS: kafka:9092" in compose
    deployment = snippet("deployment.yaml", names, source)
    assert "kind: Deployment" in deployment
    assert "image: supportbus-vip-watch:0.1.0" in deployment
    assert "consumes support.ticket.created.v1" in deployment


def test_the_command_refuses_a_bad_name_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = runner.invoke(app, ["new-agent", "Vip_Watch", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert "error: invalid agent name 'Vip_Watch'" in result.stderr
    result = runner.invoke(
        app, ["new-agent", "vip-watch", "--consumes", "nope.v1", "--root", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "error: unknown topic 'nope.v1'" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]
    assert (tmp_path / "pyproject.toml").read_text() == (ROOT / "pyproject.toml").read_text()


# ---- the whole scaffold, in a copy of the workspace -------------------------------------------


def _copy_workspace(target: Path) -> None:
    """The root pyproject.toml and uv.lock and every workspace member's files (tracked or new,
    as git lists them: no .venv, no var/), as they are in this checkout now."""
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    shutil.copy(ROOT / "uv.lock", target / "uv.lock")
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    directories = sorted(
        {path for pattern in members["members"] for path in ROOT.glob(pattern) if path.is_dir()}
    )
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--"]
        + [str(d.relative_to(ROOT)) for d in directories],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = ROOT / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)


def _run(command: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    # The copy's own environment, not the one this test runs in.
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def uv() -> str:
    found = shutil.which("uv")
    if found is None or shutil.which("git") is None:
        pytest.skip("needs uv and git")
    return found


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of this checkout's workspace to scaffold into."""
    copy = tmp_path / "workspace"
    copy.mkdir()
    _copy_workspace(copy)
    return copy


@pytest.mark.timeout(600)
def test_a_scaffolded_agent_installs_and_its_tests_ruff_and_mypy_pass(
    uv: str, workspace: Path
) -> None:
    result = runner.invoke(
        app,
        ["new-agent", "vip-watch", "--consumes", TICKET_CREATED, "--root", str(workspace)],
    )
    assert result.exit_code == 0, result.output
    assert "wrote agents/vip-watch/schemas/support.vip-watch.noted.v1.json" in result.stderr
    assert "uv lock && uv sync --frozen --all-packages" in result.stdout
    assert "kind: Deployment" in result.stdout
    agent = workspace / "agents" / "vip-watch"
    assert (agent / "Dockerfile").is_file()

    _run([uv, "lock"], workspace)
    _run([uv, "sync", "--frozen", "--all-packages"], workspace)
    tests = _run(
        [uv, "run", "--frozen", "pytest", "-p", "no:cacheprovider", "agents/vip-watch/tests"],
        workspace,
    )
    assert "2 passed" in tests.stdout
    _run([uv, "run", "--frozen", "ruff", "check", "--no-cache", "agents/vip-watch"], workspace)
    _run(
        [uv, "run", "--frozen", "mypy", "agents/vip-watch/src", "agents/vip-watch/tests"],
        workspace,
    )
    # `supportbus asyncapi` finds the agent through its entry point.
    _run([uv, "run", "--frozen", "supportbus", "asyncapi", "--out-dir", "asyncapi"], workspace)
    assert (workspace / "asyncapi" / "vip-watch.asyncapi.json").is_file()


@pytest.mark.timeout(600)
def test_a_standalone_agent_locks_and_installs_on_its_own_and_its_checks_pass(
    uv: str, workspace: Path
) -> None:
    root_lock = (workspace / "uv.lock").read_text()

    command = ["new-agent", "vip-crew", "--standalone", "--consumes", TICKET_CREATED]
    result = runner.invoke(app, [*command, "--root", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "uv lock --directory agents/vip-crew" in result.stdout
    agent = workspace / "agents" / "vip-crew"
    _run([uv, "lock", "--directory", "agents/vip-crew"], workspace)
    _run([uv, "sync", "--frozen", "--directory", "agents/vip-crew"], workspace)
    assert (agent / ".venv" / "bin" / "supportbus-vip-crew").is_file()
    run = [uv, "run", "--frozen", "--directory", "agents/vip-crew"]
    tests = _run([*run, "pytest", "-p", "no:cacheprovider"], workspace)
    assert "2 passed" in tests.stdout
    _run([*run, "ruff", "check", "--no-cache", "."], workspace)
    _run([*run, "mypy", "src", "tests"], workspace)
    # The workspace's own resolution is untouched: the agent is not one of its members.
    _run([uv, "lock", "--check"], workspace)
    assert (workspace / "uv.lock").read_text() == root_lock
