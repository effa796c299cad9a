"""``supportbus chaos``: the real stack under steady load, one fault per scenario, one row per
scenario; exits 1 when anything is lost, a ticket is duplicated, a process died on its own,
a fault did not happen, or a request was dead-lettered where none may be."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from supportbus_cli.progress import console

if TYPE_CHECKING:  # the suite's imports load models and clients: only when it runs
    from supportbus_cli.chaos.runner import Row
    from supportbus_cli.chaos.scenarios import Scenario

Names = Annotated[
    list[str] | None,
    typer.Option(
        "--scenario",
        "-s",
        help="A scenario, or a prefix such as 'kill' or 'llm' (repeatable; default: all).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("chaos")(chaos)


def chaos(
    scenario: Names = None,
    requests: Annotated[int, typer.Option(min=20, help="Requests per scenario.")] = 1000,
    rate: Annotated[float, typer.Option(min=1, help="Requests per second offered.")] = 20.0,
    seed: Annotated[int, typer.Option(help="Seeds the request texts and fault streams.")] = 7,
    fault_s: Annotated[float, typer.Option(min=1, help="How long a network fault lasts.")] = 20.0,
    outage_s: Annotated[float, typer.Option(min=1, help="How long an outage lasts.")] = 60.0,
    restart_after_s: Annotated[
        float, typer.Option(min=0, help="Pause before a killed process is started again.")
    ] = 3.0,
    bootstrap: Annotated[
        str | None,
        typer.Option(help="An external broker (broker scenarios are then skipped)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where chaos.md / chaos.json go.")] = None,
    list_only: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
) -> None:
    """Faults under load: prove that nothing is lost and nothing is done twice."""
    from supportbus_cli.chaos.scenarios import select

    picked = select(scenario)  # an unknown name: the app's translation prints it, exit 2
    if list_only:
        for s in picked:
            print(f"{s.name:28} {s.what}")
        return
    rows = _run(picked, requests, rate, seed, fault_s, outage_s, restart_after_s, bootstrap, out)
    raise typer.Exit(1 if any(r.problems for r in rows) else 0)


def _run(
    picked: list[Scenario],
    requests: int,
    rate: float,
    seed: int,
    fault_s: float,
    outage_s: float,
    restart_after_s: float,
    bootstrap: str | None,
    out: Path | None,
) -> list[Row]:
    from supportbus_classifier.settings import ClassifierSettings
    from supportbus_classifier.training import read_labelled_csv
    from supportbus_cli.artifacts import ensure_index, ensure_model
    from supportbus_cli.chaos.report import markdown, write
    from supportbus_cli.chaos.runner import ChaosOptions
    from supportbus_cli.chaos.suite import run_suite
    from supportbus_cli.settings import CliSettings
    from supportbus_retriever.settings import RetrieverSettings

    settings = CliSettings()
    ensure_model(ClassifierSettings(), settings.banking77_train())
    ensure_index(RetrieverSettings())
    work_dir = settings.work_dir / "chaos" / time.strftime("%Y%m%d-%H%M%S")
    options = ChaosOptions(
        work_dir=work_dir,
        texts=read_labelled_csv(settings.banking77_train()).texts,
        requests=requests,
        rate=rate,
        seed=seed,
        fault_s=fault_s,
        outage_s=outage_s,
        restart_after_s=restart_after_s,
    )
    started = time.monotonic()
    rows = run_suite(picked, options, cache_dir=settings.cache_dir, bootstrap=bootstrap)
    command = "supportbus " + shlex.join(sys.argv[1:])
    print(markdown(rows, command), flush=True)  # stdout: the table, ready to paste
    md, _ = write(rows, out or work_dir, command)
    console.print(f"{len(rows)} scenarios in {time.monotonic() - started:.0f} s; table: {md}")
    return rows
