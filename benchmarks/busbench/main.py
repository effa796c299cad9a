"""Orchestration: artifacts, broker, one stack per configuration, the runs, the report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from busbench.baseline import Local
from busbench.config import DEFAULT, DEFAULT_MAX_IN_FLIGHT, LLM_LATENCY_MS, QUICK, Sizes
from busbench.corpus import Corpus
from busbench.hops import hop_rows
from busbench.kafka_io import start_producer
from busbench.procstats import cores, find_broker_pid
from busbench.progress import Phases, say
from busbench.report import markdown_table, process_rows, write_markdown, write_png
from busbench.results import Row
from busbench.scenarios import embedded_stack, llm_stack
from busbench.stacks import Bench
from supportbus_classifier.settings import ClassifierSettings
from supportbus_cli.artifacts import ensure_index, ensure_model
from supportbus_cli.settings import CliSettings
from supportbus_devtools.localkafka import LocalKafka, LocalKafkaConfig
from supportbus_devtools.processes import stop_on_sigterm
from supportbus_llm_stub.testing import StubServer
from supportbus_retriever.settings import RetrieverSettings

REPO = Path(__file__).resolve().parents[2]
PHASES = 9


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/throughput.py",
        description="Throughput and latency of the real stack against the sequential pipeline.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument(
        "--out-dir", type=Path, default=REPO / "docs", help="throughput.md and throughput.png"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=REPO / "var" / "bench", help="broker data, logs, DBs"
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def _broker(work_dir: Path) -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        say(f"   using the broker at {external} (KAFKA_BOOTSTRAP_SERVERS); it is not measured")
        yield external
        return
    kafka = LocalKafka(
        LocalKafkaConfig(data_dir=work_dir / "kafka", cache_dir=CliSettings().cache_dir, port=0)
    )
    kafka.start()
    try:
        yield kafka.bootstrap_servers
    finally:
        say("   stopping Kafka")
        kafka.stop()
        shutil.rmtree(work_dir / "kafka", ignore_errors=True)  # logs of the run stay


def _failed(section: str, label: str, error: BaseException) -> Row:
    first = (str(error).splitlines() or [type(error).__name__])[0]
    say(f"!! {label} FAILED: {type(error).__name__}: {first}")
    return Row(section=section, label=label, failure=f"{type(error).__name__}: {first[:200]}")


async def _all(sizes: Sizes, work_dir: Path, bootstrap: str, phases: Phases) -> list[Row]:
    rows: list[Row] = []
    producer = await start_producer(bootstrap)
    try:
        say("   loading Banking77 texts and the embedded models for the baselines")
        classifier_settings, retriever_settings = ClassifierSettings(), RetrieverSettings()
        local = await asyncio.to_thread(
            Local, classifier_settings.model_path, retriever_settings.index_dir
        )
        bench = Bench(
            bootstrap=bootstrap,
            run_id=work_dir.name,
            work_dir=work_dir,
            sizes=sizes,
            artifact_env={
                "CLASSIFIER_MODEL_PATH": str(classifier_settings.model_path),
                "RETRIEVER_INDEX_DIR": str(retriever_settings.index_dir),
            },
            producer=producer,
            corpus=Corpus.banking77(),
            broker_pid=find_broker_pid(),
        )
        phases.start("the embedded stack: warm-up, sequential baseline, sustained, offered loads")
        try:
            await embedded_stack(bench, local, rows)
        except Exception as error:
            rows.append(_failed("bus, embedded", "embedded stack", error))
        stub = StubServer(
            latency_ms=LLM_LATENCY_MS,
            echo_valid=True,
            log_limit=50,
            log_path=work_dir / "logs" / "llm-stub.log",
        )
        await asyncio.to_thread(stub.start)
        try:
            plan = [("llm", mif, mif == DEFAULT_MAX_IN_FLIGHT) for mif in sorted(sizes.sweep)[::-1]]
            plan.append(("hybrid", DEFAULT_MAX_IN_FLIGHT, False))
            for classifier, mif, baselines in plan:
                phases.start(
                    f"LLM-bound stack ({classifier} classifier, llm composer, stub at "
                    f"{LLM_LATENCY_MS} ms), MAX_IN_FLIGHT={mif}"
                    + (", with the sequential baselines" if baselines else "")
                )
                try:
                    await llm_stack(
                        bench,
                        local,
                        stub,
                        rows,
                        classifier=classifier,
                        max_in_flight=mif,
                        with_baselines=baselines,
                    )
                except Exception as error:
                    rows.append(_failed("bus, LLM-bound", f"{classifier} MIF={mif} stack", error))
        finally:
            await asyncio.to_thread(stub.stop)
        phases.start("per hop: no-op service consumer against a raw aiokafka relay")
        try:
            rows.extend(await hop_rows(bench))
        except Exception as error:
            rows.append(_failed("hop", "per-hop runs", error))
    finally:
        await producer.stop()
    return rows


_ORDER = ("warm-up", "baseline", "bus, embedded", "bus, LLM-bound", "hop")


def _ordered(rows: list[Row]) -> list[Row]:
    def place(row: Row) -> tuple[int, float]:
        section = _ORDER.index(row.section) if row.section in _ORDER else len(_ORDER)
        # The sweep reads top to bottom (1, 8, 64); the hybrid row last.
        sweep = row.section == "bus, LLM-bound"
        return section, (float(row.max_in_flight or 10**9) if sweep else 0.0)

    ordered = sorted(rows, key=place)
    sources = (
        ("CPU, embedded", "bus-embedded"),
        ("CPU, LLM-bound", f"bus-llm-mif{DEFAULT_MAX_IN_FLIGHT}"),
    )
    for section, key in sources:
        source = next((r for r in rows if r.key == key), None)
        if source is not None and source.cpu_by_process:
            ordered += process_rows(source, section, cores())
    return ordered


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    stop_on_sigterm()  # SIGTERM stops the stacks and the broker like Ctrl-C does
    sizes = QUICK if args.quick else DEFAULT
    run_id = f"bench-{uuid.uuid4().hex[:6]}"
    work_dir = (args.work_dir / run_id).resolve()
    phases = Phases(PHASES)
    say(f"throughput benchmark ({sizes.name} sizes), work dir {work_dir}")
    phases.start("intent model and knowledge index (trained/built only if missing or stale)")
    ensure_model(ClassifierSettings(), CliSettings().banking77_train())
    ensure_index(RetrieverSettings())
    phases.start("Kafka broker")
    with _broker(work_dir) as bootstrap:
        rows = asyncio.run(_all(sizes, work_dir, bootstrap, phases))
    phases.start("report")
    rows = _ordered(rows)
    table = markdown_table(rows)
    print(table, flush=True)
    header = (
        f"Throughput benchmark, {sizes.name} sizes "
        f"(`uv run --frozen python benchmarks/throughput.py{' --quick' if args.quick else ''}`), "
        f"{cores()} cores, LLM stub at {LLM_LATENCY_MS} ms per call."
    )
    png = args.out_dir / "throughput.png"
    write_png(png, rows, title=header.split(" (")[0] + f", {cores()} cores")
    write_markdown(args.out_dir / "throughput.md", rows, header=header, png=png)
    say(f"wrote {args.out_dir / 'throughput.md'} and {png}; logs in {work_dir}")
    failed = [row for row in rows if row.failed]
    for row in failed:
        say(
            f"!! FAILED: {row.section} / {row.label}: {row.failure or ''} lost={row.lost} "
            f"duplicate tickets={row.dup_tickets}"
        )
    if failed:
        say(f"!! {len(failed)} run(s) lost requests, duplicated tickets or failed")
        return 1
    say("all runs: zero lost requests, zero duplicate tickets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
