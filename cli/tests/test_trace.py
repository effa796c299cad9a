"""`supportbus trace REQUEST_ID`: finding a request's spans and drawing its waterfall."""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from supportbus_cli.tracing import command
from supportbus_cli.tracing.command import register
from supportbus_cli.tracing.files import load_traces_from_dir
from supportbus_cli.tracing.jaeger import load_traces_from_jaeger
from supportbus_cli.tracing.model import Trace, TraceNotFound

runner = CliRunner()
T0_NS = 1_764_000_000_000_000_000

TRACE_A = "0af7651916cd43dd8448eb211c80319c"  # leading zero: Jaeger strips it
TRACE_B_FIRST = "4bf92f3577b34da6a3ce929d0e0e4736"  # req-B, dead-lettered by the retriever
TRACE_B_REDRIVE = "5c0e1d2a3b4c5d6e7f8091a2b3c4d5e6"  # req-B again after `dlq redrive`
TRACE_BASE_US = {TRACE_A: 0, TRACE_B_FIRST: 5_000, TRACE_B_REDRIVE: 1_000_000}
SCRIPT_NAME = "<script>alert(1)</script> compose"


class S(NamedTuple):
    """One synthetic span; times in µs relative to its trace's base (Jaeger's resolution)."""

    trace: str
    label: str
    parent: str | None
    service: str
    kind: str
    name: str
    start_us: int
    duration_us: int
    status: str = "UNSET"
    message: str = ""
    attributes: dict[str, Any] | None = None


def _req(request_id: str, topic: str) -> dict[str, Any]:
    return {"supportbus.request_id": request_id, "messaging.destination.name": topic}


RECEIVED, CLASSIFIED = "support.request.received.v1", "support.request.classified.v1"
RETRIEVED, CREATED = "support.knowledge.retrieved.v1", "support.ticket.created.v1"
TICKETS_URL = {"http.url": "http://127.0.0.1:8085/v1/tickets"}
# "publisher" spans are not in any file: their children are roots (the CLI ran elsewhere).
SPANS = [
    S(TRACE_A, "a1", "pubA", "classifier", "CONSUMER", f"{RECEIVED} process", 0, 12_500,
      attributes={**_req("req-A", RECEIVED), "supportbus.intent": "card_arrival"}),
    S(TRACE_A, "a2", "a1", "classifier", "INTERNAL", "classify", 500, 9_000),
    S(TRACE_A, "a3", "a1", "classifier", "PRODUCER", f"{CLASSIFIED} publish", 10_000, 2_000),
    S(TRACE_A, "a4", "a3", "retriever", "CONSUMER", f"{CLASSIFIED} process", 15_000, 30_250,
      attributes=_req("req-A", CLASSIFIED)),
    S(TRACE_A, "a5", "a4", "retriever", "INTERNAL", "retrieve", 15_500, 25_000),
    S(TRACE_A, "a6", "a4", "retriever", "PRODUCER", f"{RETRIEVED} publish", 41_000, 4_000),
    S(TRACE_A, "a7", "a6", "ticketer", "CONSUMER", f"{RETRIEVED} process", 50_000, 40_000,
      attributes=_req("req-A", RETRIEVED)),
    S(TRACE_A, "a8", "a7", "ticketer", "CLIENT", "POST", 51_000, 20_000, "ERROR", "HTTP 503",
      attributes={**TICKETS_URL, "http.response.status_code": 503}),
    S(TRACE_A, "a9", "a8", "helpdesk", "SERVER", "POST /v1/tickets", 52_000, 18_000),
    S(TRACE_A, "a10", "a7", "ticketer", "CLIENT", "POST", 75_000, 10_000,
      attributes={**TICKETS_URL, "http.response.status_code": 201}),
    S(TRACE_A, "a11", "a10", "helpdesk", "SERVER", "POST /v1/tickets", 76_000, 8_000),
    S(TRACE_A, "a12", "a7", "ticketer", "PRODUCER", f"{CREATED} publish", 86_000, 3_000),
    S(TRACE_A, "a13", "a12", "responder", "CONSUMER", f"{CREATED} process", 95_000, 10_000,
      attributes=_req("req-A", CREATED)),
    S(TRACE_A, "a14", "a13", "responder", "INTERNAL", SCRIPT_NAME, 96_000, 6_000),
    S(TRACE_A, "a15", "a13", "responder", "PRODUCER", "support.response.ready.v1 publish",
      102_000, 2_500),
    S(TRACE_B_FIRST, "b1", "pubB", "classifier", "CONSUMER", f"{RECEIVED} process", 0, 8_000,
      attributes=_req("req-B", RECEIVED)),
    S(TRACE_B_FIRST, "b2", "b1", "classifier", "PRODUCER", f"{CLASSIFIED} publish", 6_000, 1_500),
    S(TRACE_B_FIRST, "b3", "b2", "retriever", "CONSUMER", f"{CLASSIFIED} process", 9_000, 3_000,
      attributes=_req("req-B", CLASSIFIED)),
    S(TRACE_B_FIRST, "b4", "b3", "retriever", "PRODUCER", f"{CLASSIFIED}.dlq publish", 11_000,
      900),
    S(TRACE_B_REDRIVE, "c1", "redrive", "retriever", "CONSUMER", f"{CLASSIFIED} process", 0,
      20_000, attributes=_req("req-B", CLASSIFIED)),
    S(TRACE_B_REDRIVE, "c2", "c1", "retriever", "PRODUCER", f"{RETRIEVED} publish", 18_000, 1_500),
    S(TRACE_B_REDRIVE, "c3", "c2", "ticketer", "CONSUMER", f"{RETRIEVED} process", 22_000, 5_000,
      attributes=_req("req-B", RETRIEVED)),
]  # fmt: skip
SERVICES = ("classifier", "retriever", "ticketer", "helpdesk", "responder")


def span_id(label: str) -> str:
    # Deterministic 16-hex ids; a1's has leading zeros, which Jaeger strips.
    if label == "a1":
        return "00f067aa0ba902b7"
    return hashlib.sha256(label.encode()).hexdigest()[:16]


def start_ns(span: S) -> int:
    return T0_NS + (TRACE_BASE_US[span.trace] + span.start_us) * 1_000


def end_ns(span: S) -> int:
    return start_ns(span) + span.duration_us * 1_000


def file_record(span: S) -> dict[str, Any]:
    return {
        "trace_id": span.trace,
        "span_id": span_id(span.label),
        "parent_span_id": span_id(span.parent) if span.parent else None,
        "name": span.name,
        "service": span.service,
        "kind": span.kind,
        "start_unix_nano": start_ns(span),
        "end_unix_nano": end_ns(span),
        "status": span.status,
        "status_message": span.message,
        "attributes": span.attributes or {},
    }


@pytest.fixture
def span_dir(tmp_path: Path) -> Path:
    """One file per service process; traces interleave. Lines newest first, so that nothing
    can rely on the file order being the start order (a batch exporter gives no such promise)."""
    directory = tmp_path / "traces"
    directory.mkdir()
    for pid, service in enumerate(SERVICES, start=4100):
        mine = sorted((s for s in SPANS if s.service == service), key=end_ns, reverse=True)
        lines = [json.dumps(file_record(span)) + "\n" for span in mine]
        if service == "responder":
            lines.append('{"trace_id": "0af7651916cd43dd8448eb2')  # still being written
        (directory / f"spans-{service}-{pid}.jsonl").write_text("".join(lines), encoding="utf-8")
    return directory


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Keeps `trace` a named subcommand, as in the real CLI."""

    return app


def trace_a_rows(output: str) -> list[str]:
    """The waterfall lines of the (first) trace: after the column header, up to the blank."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("trace ")) + 2
    return lines[start : lines.index("", start)]


EXPECTED_TREE_A = [  # (depth, label) depth-first, children by start time
    (0, "a1"), (1, "a2"), (1, "a3"), (2, "a4"), (3, "a5"), (3, "a6"), (4, "a7"), (5, "a8"),
    (6, "a9"), (5, "a10"), (6, "a11"), (5, "a12"), (6, "a13"), (7, "a14"), (7, "a15"),
]  # fmt: skip
BY_LABEL = {span.label: span for span in SPANS}


def test_text_waterfall_lists_spans_depth_first_indented_by_depth(
    app: typer.Typer, span_dir: Path
) -> None:
    result = runner.invoke(app, ["trace", "req-A", "--spans", str(span_dir)])
    assert result.exit_code == 0, result.output
    rows = trace_a_rows(result.stdout)
    assert len(rows) == len(EXPECTED_TREE_A)
    for row, (depth, label) in zip(rows, EXPECTED_TREE_A, strict=True):
        label_column = row[2:]
        indent = len(label_column) - len(label_column.lstrip(" "))
        assert indent == 2 * depth, row
        assert label_column.lstrip(" ").startswith(BY_LABEL[label].name), row
        assert BY_LABEL[label].service in row
    assert result.stdout.startswith(f"trace {TRACE_A}  request req-A  total 105.000 ms  15 spans")
    assert "services: classifier, retriever, ticketer, helpdesk, responder" in result.stdout


def test_text_waterfall_shows_offsets_durations_bars_and_error_marker(
    app: typer.Typer, span_dir: Path
) -> None:
    result = runner.invoke(app, ["trace", "req-A", "--spans", str(span_dir), "--width", "40"])
    rows = trace_a_rows(result.stdout)
    trace_start = min(start_ns(s) for s in SPANS if s.trace == TRACE_A)
    trace_ns = max(end_ns(s) for s in SPANS if s.trace == TRACE_A) - trace_start
    for row, (_, label) in zip(rows, EXPECTED_TREE_A, strict=True):
        span = BY_LABEL[label]
        columns, bar = row.split("|")[0].split(), row.split("|")[1]
        offset_ms = (start_ns(span) - trace_start) / 1e6
        assert columns[-2:] == [f"{offset_ms:.3f}", f"{span.duration_us / 1e3:.3f}"], row
        assert len(bar) == 40
        first_block = math.floor((start_ns(span) - trace_start) * 40 / trace_ns)
        assert bar.index("█") == first_block, row
        assert row.startswith("!") == (span.status == "ERROR"), row
    error_row = rows[EXPECTED_TREE_A.index((5, "a8"))]
    assert error_row.startswith("! ")
    assert error_row.endswith("ERROR HTTP 503")
    assert rows[-1].split("|")[1].endswith("█")  # the last span ends the trace


def test_per_service_summary_counts_overlapping_spans_once(
    app: typer.Typer, span_dir: Path
) -> None:
    result = runner.invoke(app, ["trace", "req-A", "--spans", str(span_dir)])
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("per service")) + 3
    summary = {line.split()[0]: line.split()[1:3] for line in lines[start:] if line.strip()}
    # classifier a1; retriever a4; ticketer a7; helpdesk a9 + a11 (one per HTTP attempt, both
    # under ticketer spans); responder a13. Nested same-service spans (a2, a5, a8...) not added.
    assert summary == {
        "classifier": ["1", "12.500"],
        "retriever": ["1", "30.250"],
        "ticketer": ["1", "40.000"],
        "helpdesk": ["2", "26.000"],
        "responder": ["1", "10.000"],
    }


def test_request_with_two_traces_shows_both_newest_first(app: typer.Typer, span_dir: Path) -> None:
    result = runner.invoke(app, ["trace", "req-B", "--spans", str(span_dir)])
    assert result.exit_code == 0, result.output
    assert "request req-B: 2 traces, newest first" in result.stdout
    assert TRACE_A not in result.stdout
    redrive, first = result.stdout.index(TRACE_B_REDRIVE), result.stdout.index(TRACE_B_FIRST)
    assert redrive < first
    # b2/b4 and c2 carry no request id but belong to the traces: every span is shown.
    assert result.stdout.count(f"{CLASSIFIED}.dlq publish") == 1
    assert f"trace {TRACE_B_FIRST}  request req-B  total 12.000 ms  4 spans" in result.stdout
    assert f"trace {TRACE_B_REDRIVE}  request req-B  total 27.000 ms  3 spans" in result.stdout


def test_unknown_request_exits_1_naming_where_it_looked(app: typer.Typer, span_dir: Path) -> None:
    result = runner.invoke(app, ["trace", "req-nope", "--spans", str(span_dir)])
    assert result.exit_code == 1
    assert str(span_dir) in result.stderr
    assert "read 5 span file(s)" in result.stderr
    assert f"{len(SPANS)} span(s), 1 unreadable line(s) skipped" in result.stderr
    assert result.stdout == ""


def test_bad_arguments_exit_2(app: typer.Typer, span_dir: Path, tmp_path: Path) -> None:
    bad = [
        ["trace", "req-A", "--spans", str(span_dir), "--out", str(tmp_path / "x.txt")],
        ["trace", "req-A", "--spans", str(span_dir), "--jaeger", "http://localhost:16686"],
        ["trace", "req-A", "--spans", str(tmp_path / "missing")],
        ["trace", "req-A", "--jaeger", "localhost:16686"],
        ["trace"],
    ]
    for arguments in bad:
        assert runner.invoke(app, arguments).exit_code == 2, arguments


def test_html_is_one_self_contained_file_with_every_name_escaped(
    app: typer.Typer, span_dir: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "report"
    result = runner.invoke(
        app, ["trace", "req-A", "--spans", str(span_dir), "--out", str(out_dir / "a.html")]
    )
    assert result.exit_code == 0, result.output
    assert [path.name for path in out_dir.iterdir()] == ["a.html"]
    document = (out_dir / "a.html").read_text(encoding="utf-8")
    for span in SPANS:
        if span.trace == TRACE_A:
            assert html.escape(span.name) in document
    assert "<script" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert document.count('class="bar') == 15
    assert 'title="span_id = ' in document  # attributes on hover
    external = re.compile(
        r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?https?:|@import|<link"""
    )
    assert not external.search(document)


def test_png_is_a_real_multicoloured_image(
    app: typer.Typer, span_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "a.png"
    result = runner.invoke(app, ["trace", "req-A", "--spans", str(span_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.width >= 800
        assert image.height >= 15 * 20
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 5  # white background, text, axis, one colour per service


# --- Jaeger ---------------------------------------------------------------------------------


def jaeger_document(trace_id: str) -> dict[str, Any]:
    """What Jaeger's /api/traces/{id} returns for one of our traces (OTLP-ingested)."""
    spans = [s for s in SPANS if s.trace == trace_id]
    services = list(dict.fromkeys(s.service for s in spans))
    process_of = {service: f"p{index}" for index, service in enumerate(services, start=1)}
    labels = {s.label for s in spans}
    jaeger_spans = []
    for span in spans:
        tags: list[dict[str, Any]] = [
            {"key": "otel.scope.name", "type": "string", "value": "supportbus"},
            {"key": "span.kind", "type": "string", "value": span.kind.lower()},
        ]
        for key, value in (span.attributes or {}).items():
            kind = "int64" if isinstance(value, int) else "string"
            tags.append({"key": key, "type": kind, "value": value})
        if span.status == "ERROR":
            tags += [
                {"key": "otel.status_code", "type": "string", "value": "ERROR"},
                {"key": "error", "type": "bool", "value": True},
                {"key": "otel.status_description", "type": "string", "value": span.message},
            ]
        references = []
        if span.parent:
            parent_id = span_id(span.parent).lstrip("0")
            references.append({"refType": "CHILD_OF", "traceID": trace_id.lstrip("0"),
                               "spanID": parent_id})  # fmt: skip
        jaeger_spans.append(
            {
                "traceID": trace_id.lstrip("0"),
                "spanID": span_id(span.label).lstrip("0"),
                "operationName": span.name,
                "references": references,
                "startTime": start_ns(span) // 1_000,
                "duration": span.duration_us,
                "tags": tags,
                "logs": [],
                "processID": process_of[span.service],
                "warnings": (
                    None if span.parent in labels else [f"invalid parent span IDs={span.parent}"]
                ),
                "flags": 1,
            }
        )
    processes = {
        pid: {"serviceName": service, "tags": [{"key": "host.name", "type": "string",
                                                "value": "worker-1"}]}
        for service, pid in process_of.items()
    }  # fmt: skip
    return {"traceID": trace_id.lstrip("0"), "spans": jaeger_spans, "processes": processes,
            "warnings": None}  # fmt: skip


def jaeger_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    """A Jaeger query service holding every synthetic trace; the retriever search fails."""
    documents = {trace.lstrip("0"): jaeger_document(trace) for trace in TRACE_BASE_US}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/traces":
            if request.url.params["service"] == "retriever":
                return httpx.Response(500, json={"data": None, "errors": [{"code": 500}]})
            wanted = json.loads(request.url.params["tags"])["supportbus.request_id"]
            assert request.url.params["limit"] == "20"
            found = [
                document
                for trace, document in documents.items()
                if any(
                    (s.attributes or {}).get("supportbus.request_id") == wanted
                    and s.service == request.url.params["service"]
                    for s in SPANS
                    if s.trace.lstrip("0") == trace
                )
            ]
            return httpx.Response(200, json={"data": found, "total": 0, "errors": None})
        trace_id = request.url.path.removeprefix("/api/traces/").lstrip("0")
        if trace_id not in documents:
            return httpx.Response(404, json={"data": None, "errors": [{"code": 404}]})
        return httpx.Response(200, json={"data": [documents[trace_id]], "errors": None})

    return httpx.MockTransport(handle)


def tree(traces: list[Trace]) -> Iterator[tuple[str, int, object]]:
    for trace in traces:
        for row in trace.rows:
            yield trace.trace_id, row.depth, row.span


def test_jaeger_loader_builds_the_same_tree_as_the_span_files(span_dir: Path) -> None:
    seen: list[httpx.Request] = []
    from_jaeger = load_traces_from_jaeger(
        "http://jaeger:16686/", "req-A", transport=jaeger_transport(seen)
    )
    from_files = load_traces_from_dir(span_dir, "req-A")
    assert list(tree(from_jaeger)) == list(tree(from_files))
    assert from_jaeger[0].trace_id == TRACE_A
    searched = [r.url.params["service"] for r in seen if r.url.path == "/api/traces"]
    assert searched == ["classifier", "retriever", "ticketer", "responder"]
    fetched = [r.url.path for r in seen if r.url.path != "/api/traces"]
    assert fetched == [f"/api/traces/{TRACE_A}"]  # the union: fetched once, not per service


def test_jaeger_loader_reports_where_it_looked_when_nothing_matches() -> None:
    with pytest.raises(TraceNotFound, match=r"Jaeger at http://jaeger:16686.*retriever: HTTP"):
        load_traces_from_jaeger("http://jaeger:16686", "req-nope", transport=jaeger_transport([]))


def test_trace_command_reads_jaeger_with_both_redrive_traces(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    loader = partial(load_traces_from_jaeger, transport=jaeger_transport([]))
    monkeypatch.setattr(command, "load_traces_from_jaeger", loader)
    result = runner.invoke(app, ["trace", "req-B", "--jaeger", "http://jaeger:16686"])
    assert result.exit_code == 0, result.output
    assert result.stdout.index(TRACE_B_REDRIVE) < result.stdout.index(TRACE_B_FIRST)


def test_work_under_a_zero_length_create_span_still_counts_for_its_service() -> None:
    from supportbus_cli.tracing.model import Span, Trace

    ms = 1_000_000
    spans = (
        Span("t" * 32, "c" * 16, None, "in.v1 create", "classifier", "PRODUCER", 0, 0),
        Span(
            "t" * 32, "p" * 16, "c" * 16, "in.v1 process", "classifier", "CONSUMER", 1 * ms, 20 * ms
        ),
        Span("t" * 32, "e" * 16, "p" * 16, "embed", "classifier", "INTERNAL", 2 * ms, 10 * ms),
        Span(
            "t" * 32,
            "r" * 16,
            "p" * 16,
            "out.v1 process",
            "retriever",
            "CONSUMER",
            30 * ms,
            35 * ms,
        ),
    )
    totals = {t.service: t.duration_ns for t in Trace("t" * 32, "req", spans).service_totals()}
    assert totals == {"classifier": 19 * ms, "retriever": 5 * ms}
