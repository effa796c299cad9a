"""The ``supportbus trace`` command; main.py wires it in with ``register(app)``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supportbus_cli.settings import CliSettings
from supportbus_cli.tracing.files import load_traces_from_dir
from supportbus_cli.tracing.jaeger import load_traces_from_jaeger
from supportbus_cli.tracing.model import Trace, TraceNotFound
from supportbus_cli.tracing.render_text import DEFAULT_BAR_WIDTH, render_traces

HTML_SUFFIXES = (".html", ".htm")
PNG_SUFFIXES = (".png",)
EXIT_NOT_FOUND = 1


def register(app: typer.Typer) -> None:
    """Add the ``trace`` command to ``app`` (the operator CLI, or a test app)."""
    app.command("trace")(trace_command)


def default_span_dir() -> Path:
    return CliSettings().work_dir / "traces"


def trace_command(
    request_id: Annotated[
        str, typer.Argument(metavar="REQUEST_ID", help="The request id (the Kafka key).")
    ],
    spans: Annotated[
        Path | None,
        typer.Option(
            "--spans",
            metavar="DIR",
            exists=True,
            file_okay=False,
            help="Directory of spans-<service>-<pid>.jsonl files (default: var/traces).",
        ),
    ] = None,
    jaeger: Annotated[
        str | None,
        typer.Option(
            "--jaeger", metavar="URL", help="Read from a Jaeger query endpoint instead of files."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="FILE", help="Also write the waterfall to FILE.html or .png."
        ),
    ] = None,
    width: Annotated[
        int, typer.Option("--width", min=10, max=200, help="Width of the timeline bars.")
    ] = DEFAULT_BAR_WIDTH,
) -> None:
    """Show one request's distributed trace as a waterfall, with time per service.

    Exit code 1 when no span carries the request id, 2 on bad arguments.
    """
    _check_arguments(spans, jaeger, out)
    try:
        traces = _load(request_id, spans, jaeger)
    except TraceNotFound as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_NOT_FOUND) from None
    typer.echo(render_traces(traces, bar_width=width), nl=False)
    if out is not None:
        try:
            _write(traces, out)
        except OSError as error:
            typer.echo(f"error: cannot write {out}: {error}", err=True)
            raise typer.Exit(1) from None
        # To stderr, so stdout stays the waterfall alone when piped.
        typer.echo(f"wrote {out}", err=True)


def _check_arguments(spans: Path | None, jaeger: str | None, out: Path | None) -> None:
    # BadParameter is a click usage error: exit code 2 with the usage line.
    if spans is not None and jaeger is not None:
        raise typer.BadParameter("give --spans or --jaeger, not both", param_hint="--jaeger")
    if jaeger is not None and not jaeger.startswith(("http://", "https://")):
        raise typer.BadParameter(
            f"{jaeger!r} is not an http(s) URL (e.g. http://localhost:16686)",
            param_hint="--jaeger",
        )
    if out is not None and out.suffix.lower() not in HTML_SUFFIXES + PNG_SUFFIXES:
        raise typer.BadParameter(
            f"{out} must end in .html or .png (the format follows the suffix)", param_hint="--out"
        )


def _load(request_id: str, spans: Path | None, jaeger: str | None) -> list[Trace]:
    if jaeger is not None:
        return load_traces_from_jaeger(jaeger, request_id)
    return load_traces_from_dir(spans or default_span_dir(), request_id)


def _write(traces: list[Trace], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in PNG_SUFFIXES:
        # Imported here: Pillow costs start-up time that text and HTML output do not need.
        from supportbus_cli.tracing.render_png import write_png

        write_png(traces, out)
    else:
        from supportbus_cli.tracing.render_html import render_html

        out.write_text(render_html(traces), encoding="utf-8")
