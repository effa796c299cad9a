"""`supportbus new-agent NAME [--consumes TOPIC] [--standalone]`: scaffold an agent.

An agent is a package under ``agents/NAME/`` laid out as ``supportbus_runtime.kit`` describes
(events, declaration, settings, handlers, app, main), with one handler that consumes TOPIC and
publishes the agent's own example event, that event's committed JSON Schema, a test on
FastStream's ``TestKafkaBroker`` and a Dockerfile. The files are ``string.Template`` files under
``agent_template/`` (``__package__`` in a path is the package name, ``.tmpl`` is dropped); the
two deployment snippets under ``agent_template/_snippets/`` are printed, never written.

A workspace member (the default) shares the workspace's one environment: the command adds it
to the root pyproject.toml's ``dependencies`` and ``[tool.uv.sources]`` (the ``members`` glob
``agents/*`` already covers it). A standalone agent (``--standalone``, for dependencies the
workspace cannot share, as the CrewAI reviewer's) gets its own pyproject with path sources for
contracts and the runtime, its own lockfile and environment, and a Dockerfile built from that
lockfile; the command adds it to the workspace's ``exclude`` (see
``supportbus_devtools.workspace``). Then it prints the next steps. What it wrote goes to
stderr, the next steps to stdout.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from supportbus_cli.new_agent_names import AgentNames
from supportbus_cli.new_agent_pyproject import with_agent, without_agent
from supportbus_cli.progress import console
from supportbus_contracts import ALL_EVENTS, Event, topics
from supportbus_contracts.schemas import export, schema_file_name
from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.settings import repo_root

TEMPLATE_DIR = Path(__file__).with_name("agent_template")
SNIPPETS = "_snippets"
STANDALONE = "_standalone"
DEFAULT_TOPIC = topics.REQUEST_CLASSIFIED
HTTP_PORT = 9110  # in its own container; the core services use 9101-9104

# The workspace's own members: an agent may not take their names (packages, env prefixes,
# consumer groups and images would collide); "supportbus" is the CLI's env prefix.
RESERVED_NAMES = frozenset(
    {
        "classifier",
        "retriever",
        "ticketer",
        "responder",
        "helpdesk",
        "contracts",
        "runtime",
        "cli",
        "devtools",
        "llm-stub",
        "supportbus",
    }
)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_NAME_LENGTH = 20  # the generated lines stay within 100 characters


@dataclass(frozen=True)
class Consumed:
    """The topic the agent's handler consumes: its constant in ``supportbus_contracts.topics``
    and the event class it carries."""

    topic: str
    constant: str
    event: type[Event]

    @property
    def handler(self) -> str:
        # support.request.classified -> on_request_classified
        return "on_" + "_".join(self.event.event_type().split(".")[1:])


def validate_name(name: str, root: Path) -> AgentNames:
    """The agent's names, or a ConfigurationError saying why NAME cannot be an agent here."""
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ConfigurationError(
            f"invalid agent name {name!r}: use lowercase letters, digits and single hyphens, "
            f"starting with a letter, at most {MAX_NAME_LENGTH} characters (e.g. kb-gaps)"
        )
    if name in RESERVED_NAMES:
        raise ConfigurationError(
            f"invalid agent name {name!r}: it is the name of a supportbus package; pick another"
        )
    if (root / "agents" / name).exists():
        raise ConfigurationError(f"agents/{name} already exists in {root}; pick another name")
    return AgentNames(name)


def topic_of(event: type[Event]) -> str:
    """The topic an event travels on: its type and its major version (``...classified.v1``)."""
    return schema_file_name(event).removesuffix(".json")


def consumed(topic: str) -> Consumed:
    """What consuming ``topic`` means, or a ConfigurationError naming the topics there are."""
    constants = {
        value: constant
        for constant, value in vars(topics).items()
        if constant.isupper() and value in topics.PIPELINE_TOPICS
    }
    events = {topic_of(event): event for event in ALL_EVENTS}
    if topic not in constants or topic not in events:
        known = ", ".join(topics.PIPELINE_TOPICS)
        raise ConfigurationError(f"unknown topic {topic!r}: an agent can consume one of {known}")
    return Consumed(topic, constants[topic], events[topic])


# The example input of the generated test, per consumed event: the helpers it needs (the class
# each builds, its code) and the fields of the event.
_HELPERS: dict[str, tuple[str, str]] = {
    "request": (
        "SupportRequest",
        'def _request() -> SupportRequest:\n    return SupportRequest(\n        channel="email",\n'
        '        customer_id="cus_1",\n        subject="Card not arrived",\n'
        '        body="I ordered a card two weeks ago and it has not arrived.",\n    )\n',
    ),
    "classification": (
        "Classification",
        "def _classification() -> Classification:\n    return Classification(\n"
        '        category="cards",\n        intent="card_arrival",\n        priority="normal",\n'
        '        confidence=0.9,\n        summary="Card not arrived",\n        model="test",\n'
        "    )\n",
    ),
    "articles": (
        "Article",
        "def _articles() -> list[Article]:\n    return [\n        Article(\n"
        '            article_id="kb-card-arrival",\n            title="Card delivery",\n'
        '            snippet="A card arrives within 5 working days.",\n            score=0.8,\n'
        "        )\n    ]\n",
    ),
    "ticket": (
        "Ticket",
        "def _ticket() -> Ticket:\n"
        '    return Ticket(ticket_id="TCK-1", url="http://helpdesk/v1/tickets/TCK-1", '
        'status="open")\n',
    ),
}
_FIELDS: dict[str, tuple[str, ...]] = {
    "RequestReceived": ("request",),
    "RequestClassified": ("request", "classification"),
    "KnowledgeRetrieved": ("request", "classification", "articles"),
    "TicketCreated": ("request", "classification", "articles", "ticket"),
    "ResponseReady": ("request", "classification", "ticket"),
}
_LITERAL_FIELDS: dict[str, tuple[str, ...]] = {
    "ResponseReady": (
        'reply="Your card is on its way."',
        'cited_article_ids=["kb-card-arrival"]',
        'composer="template"',
    ),
}


def template_values(names: AgentNames, source: Consumed) -> dict[str, str]:
    """What each ``$placeholder`` of the templates stands for."""
    input_class = source.event.__name__
    fields = _FIELDS[input_class]
    classes = sorted({input_class, *(_HELPERS[field][0] for field in fields)})
    incoming = [f"{field}=_{field}()" for field in fields] + list(
        _LITERAL_FIELDS.get(input_class, ())
    )
    return {
        "name": names.name,
        "package": names.package,
        "distribution": names.distribution,
        "env_prefix": names.env_prefix,
        "settings_class": f"{names.camel}Settings",
        "event_class": names.event_class,
        "event_type": names.event_type,
        "event_topic": names.event_topic,
        "output_constant": "NOTED_TOPIC",
        "agent_dir": names.agent_dir,
        "description": f"consumes {source.topic}, publishes {names.event_topic}",
        "input_topic": source.topic,
        "input_constant": source.constant,
        "input_class": input_class,
        "handler": source.handler,
        "http_port": str(HTTP_PORT),
        "contracts_imports": "\n".join(f"    {name}," for name in classes),
        "helpers": "\n\n".join(_HELPERS[field][1] for field in fields),
        "incoming_fields": "\n".join(f"        {field}," for field in incoming),
    }


def render(names: AgentNames, source: Consumed, *, standalone: bool = False) -> dict[Path, str]:
    """The agent's files, by path relative to the workspace root (nothing written). A
    standalone agent's ``_standalone/`` templates (pyproject, Dockerfile) replace the
    workspace member's."""
    values = template_values(names, source)
    files: dict[Path, str] = {}
    templates = {
        t.relative_to(TEMPLATE_DIR): t
        for t in TEMPLATE_DIR.rglob("*.tmpl")
        if t.relative_to(TEMPLATE_DIR).parts[0] not in (SNIPPETS, STANDALONE)
    }
    if standalone:
        standalone_dir = TEMPLATE_DIR / STANDALONE
        templates |= {t.relative_to(standalone_dir): t for t in standalone_dir.rglob("*.tmpl")}
    for relative, template in sorted(templates.items()):
        target = str(relative).removesuffix(".tmpl").replace("__package__", names.package)
        target = target.replace("__module__", names.module)
        text = Template(template.read_text()).substitute(values)
        if target.endswith(".py"):
            text = sort_first_party_imports(text)
        files[Path(names.agent_dir) / target] = text
    return files


def sort_first_party_imports(source: str) -> str:
    """``source`` with each run of ``from supportbus_...`` imports in module order, as isort
    wants them: where the agent's own package goes among the workspace's depends on its name."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    run: list[str] = []  # the statements of the current run, each one or more lines
    i = 0
    while i < len(lines):
        if lines[i].startswith("from supportbus_"):
            statement = lines[i]
            if statement.rstrip().endswith("("):  # parenthesised: up to its closing line
                while lines[i].strip() != ")":
                    i += 1
                    statement += lines[i]
            run.append(statement)
        else:
            out.extend(sorted(run, key=lambda s: s.split()[1]))
            run = []
            out.append(lines[i])
        i += 1
    out.extend(sorted(run, key=lambda s: s.split()[1]))
    return "".join(out)


def snippet(kind: str, names: AgentNames, source: Consumed) -> str:
    """A deployment snippet (``docker-compose.yml`` or ``deployment.yaml``), for printing."""
    text = (TEMPLATE_DIR / SNIPPETS / f"{kind}.tmpl").read_text()
    return Template(text).substitute(template_values(names, source))


def write_files(root: Path, files: dict[Path, str]) -> list[Path]:
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def export_schemas(root: Path, names: AgentNames) -> list[Path]:
    """Commit the JSON Schemas of the events the agent's ``events.py`` (just written) defines,
    read from the file itself: the package is not installed yet."""
    agent = root / names.agent_dir
    module_name = f"{names.package}.events"
    spec = importlib.util.spec_from_file_location(
        module_name, agent / "src" / names.package / "events.py"
    )
    if spec is None or spec.loader is None:  # pragma: no cover - a path we just wrote
        raise ConfigurationError(f"cannot load the events of {agent}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic resolves the annotations through it
    try:
        spec.loader.exec_module(module)
        events: tuple[type[Event], ...] = module.EVENTS
        return export(agent / "schemas", events)
    finally:
        del sys.modules[module_name]


def _commands(names: AgentNames, *, standalone: bool) -> list[str]:
    tests = f"{names.agent_dir}/tests"
    run = "uv run --frozen"
    if standalone:
        run = f"uv run --frozen --directory {names.agent_dir}"
        return [
            f"Standalone: its own lockfile and environment ({names.agent_dir}/.venv); the "
            "workspace excludes it, scripts/test runs its checks there.",
            "",
            "Next steps:",
            f"  uv lock --directory {names.agent_dir} && uv sync --frozen --directory "
            f"{names.agent_dir}",
            f"  {run} pytest",
            f"  {run} ruff check .",
            f"  {run} mypy src tests",
            f"  {run} {names.distribution}        # needs Kafka "
            f"({names.env_prefix}KAFKA_BOOTSTRAP_SERVERS)",
        ]
    return [
        "Next steps:",
        "  uv lock && uv sync --frozen --all-packages",
        f"  {run} pytest {tests}",
        f"  {run} ruff check {names.agent_dir}",
        f"  {run} mypy {names.agent_dir}/src {tests}",
        f"  {run} {names.distribution}        # needs Kafka "
        f"({names.env_prefix}KAFKA_BOOTSTRAP_SERVERS)",
        f"  {run} supportbus asyncapi   # writes its AsyncAPI document too",
    ]


def next_steps(names: AgentNames, source: Consumed, *, standalone: bool = False) -> str:
    return "\n".join(
        [
            f"Agent {names.name} written: {names.agent_dir}/ (package {names.package}, "
            f"env prefix {names.env_prefix}, consumer group supportbus-{names.name}).",
            "",
            *_commands(names, standalone=standalone),
            "",
            f"Put the logic in {names.agent_dir}/src/{names.package}/handlers.py; its own events "
            f"are in events.py (refresh {names.agent_dir}/schemas/ after a compatible change:",
            f"  uv run --frozen python -m supportbus_contracts.schemas {names.agent_dir}/schemas "
            f"{names.package}.events:EVENTS).",
            "",
            "docker-compose.yml, under services: (build: docker build -f "
            f"{names.agent_dir}/Dockerfile .):",
            "",
            snippet("docker-compose.yml", names, source),
            "Kubernetes (e.g. deploy/k8s/base/<name>.yaml, listed in kustomization.yaml):",
            "",
            snippet("deployment.yaml", names, source),
        ]
    )


def scaffold(
    root: Path, name: str, topic: str, *, standalone: bool = False
) -> tuple[AgentNames, Consumed, list[Path]]:
    """Validate, write the agent and its schemas, add it to the workspace (or to its
    ``exclude``, standalone); returns what it wrote. Nothing is written when NAME or TOPIC is
    refused."""
    names = validate_name(name, root)
    source = consumed(topic)
    pyproject = root / "pyproject.toml"
    edit = without_agent if standalone else with_agent
    workspace = edit(pyproject.read_text(), names)
    written = write_files(root, render(names, source, standalone=standalone))
    written += export_schemas(root, names)
    pyproject.write_text(workspace)
    return names, source, [*written, pyproject]


def register(app: typer.Typer) -> None:
    app.command("new-agent")(new_agent)


def new_agent(
    name: Annotated[str, typer.Argument(help="The agent's name, e.g. kb-gaps.")],
    consumes: Annotated[
        str, typer.Option(help="The topic its handler consumes (a pipeline topic).")
    ] = DEFAULT_TOPIC,
    root: Annotated[
        Path | None, typer.Option(help="The workspace root (default: this checkout).")
    ] = None,
    standalone: Annotated[
        bool,
        typer.Option(
            help="Its own lockfile and environment (dependencies the workspace cannot share), "
            "instead of a workspace member."
        ),
    ] = False,
) -> None:
    """Scaffold an agent under agents/NAME: its own consumer group and events, a handler, tests."""
    workspace = (root or repo_root()).resolve()
    if not (workspace / "pyproject.toml").is_file():
        raise ConfigurationError(f"{workspace} has no pyproject.toml: point --root at the checkout")
    names, source, written = scaffold(workspace, name, consumes, standalone=standalone)
    for path in written:
        console.print(f"wrote {path.relative_to(workspace)}")
    print(next_steps(names, source, standalone=standalone))
