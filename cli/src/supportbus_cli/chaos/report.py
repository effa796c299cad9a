"""The chaos table: one row per scenario, printed, and written as Markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from supportbus_cli.chaos.runner import Row

COLUMNS = (
    "scenario",
    "requests",
    "answered",
    "dead-lettered (reason)",
    "lost",
    "tickets",
    "dup. tickets",
    "dup. events (identical?)",
    "died",
    "recovery s: throughput back / backlog drained",
    "fault (proof)",
    "verdict",
)


def _dead(row: Row) -> str:
    if row.audit is None or not row.audit.dead:
        return "0"
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(row.audit.dead_by_reason.items()))
    return f"{row.audit.dead} ({reasons})"


def _duplicates(row: Row) -> str:
    a = row.audit
    if a is None:
        return "-"
    if not a.duplicate_events:
        return "0"
    same = "yes" if a.duplicates_identical else f"no: {', '.join(a.differing_fields)}"
    return f"{a.duplicate_events} ({same})"


def cells(row: Row) -> list[str]:
    if row.skipped:
        return [row.scenario, *["-"] * (len(COLUMNS) - 3), row.skipped, "skipped"]
    a = row.audit
    healed = row.recovery
    if healed is None:
        recovery = "-"
    else:
        back = "never" if healed.throughput_back_s is None else f"{healed.throughput_back_s:.1f}"
        drained = "never" if healed.seconds is None else f"{healed.seconds:.1f}"
        recovery = f"{back} / {drained} ({healed.disrupted} slower than {healed.threshold_s:.1f} s)"
    problems = row.problems
    return [
        row.scenario,
        str(row.requests),
        "-" if a is None else str(a.answered),
        _dead(row),
        "-" if a is None else str(len(a.lost)),
        "-" if a is None else str(a.tickets.for_run),
        "-" if a is None else str(a.tickets.duplicates),
        _duplicates(row),
        ", ".join(row.died) or "0",
        recovery,
        row.error if row.fault is None else row.fault.detail,
        "FAIL: " + "; ".join(problems) if problems else "ok",
    ]


def markdown(rows: Sequence[Row], command: str) -> str:
    lines = [
        f"Produced by `{command}`.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells(row)) + " |")
    return "\n".join(lines) + "\n"


def write(rows: Sequence[Row], out_dir: Path, command: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "chaos.md", out_dir / "chaos.json"
    md.write_text(markdown(rows, command))
    js.write_text(json.dumps([asdict(r) for r in rows], indent=2, default=str))
    return md, js
