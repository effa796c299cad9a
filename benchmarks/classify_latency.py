"""Benchmark: CPU cost of one classification (embedding, TF-IDF features and the linear SVM),
one request at a time as the CLI evaluation runs them, then per text in batches of 1, 8 and 32
(one model call per batch, as the service's micro-batcher makes them), then through the
micro-batcher itself with 64 requests in flight. Prints figures; asserts nothing (the machine is
shared).

    uv run python benchmarks/classify_latency.py [--requests 500] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.service import ClassificationService
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_classifier.training import read_labelled_csv
from supportbus_cli.settings import CliSettings
from supportbus_contracts import SupportRequest
from supportbus_runtime.embedding import MiniLMEmbedder

BATCH_SIZES = (1, 8, 32)
IN_FLIGHT = 64


def one_at_a_time(model: LinearIntentModel, texts: list[str]) -> None:
    wall, cpu = [], []
    for text in texts:
        w, c = time.perf_counter(), time.process_time()
        model.predict([text])
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    wall.sort()
    print(
        f"one at a time, wall ms: mean {statistics.mean(wall):.2f}  "
        f"p50 {wall[len(wall) // 2]:.2f}  p95 {wall[int(len(wall) * 0.95)]:.2f}"
    )
    print(f"one at a time, cpu ms:  mean {statistics.mean(cpu):.2f}")


def per_batch_size(model: LinearIntentModel, texts: list[str]) -> None:
    """The same texts in consecutive batches of each size: the cost of one text in a batch."""
    for size in BATCH_SIZES:
        usable = len(texts) - len(texts) % size
        w, c = time.perf_counter(), time.process_time()
        for start in range(0, usable, size):
            model.predict(texts[start : start + size])
        wall_ms = (time.perf_counter() - w) * 1000 / usable
        cpu_ms = (time.process_time() - c) * 1000 / usable
        print(f"batch {size:>2}: {wall_ms:.2f} ms wall, {cpu_ms:.2f} ms cpu per text")


async def through_the_batcher(service: ClassificationService, texts: list[str]) -> None:
    """``IN_FLIGHT`` coroutines classifying concurrently, as the consumer runs records."""
    requests = [SupportRequest(channel="api", customer_id="bench", body=t) for t in texts]
    queue = iter(requests)

    async def worker() -> None:
        for request in queue:
            await service.decide(request)

    w, c = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    wall_ms = (time.perf_counter() - w) * 1000 / len(requests)
    cpu_ms = (time.process_time() - c) * 1000 / len(requests)
    await service.aclose()
    batcher = service.batcher
    print(
        f"micro-batcher, {IN_FLIGHT} in flight: {wall_ms:.2f} ms wall, {cpu_ms:.2f} ms cpu per "
        f"request; {batcher.batches} batches, mean size {batcher.items / batcher.batches:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args()
    settings = ClassifierSettings()
    embedder = MiniLMEmbedder(
        settings.resolved_model_path(settings.shared_dir), threads=args.threads
    )
    taxonomy = Taxonomy.load(settings.taxonomy_path)
    model = LinearIntentModel.load(settings.model_path, embedder=embedder, taxonomy=taxonomy)
    texts = read_labelled_csv(CliSettings().banking77_train()).texts[: args.requests]
    model.predict(texts[:5])  # warm-up
    print(f"requests: {len(texts)} (onnxruntime threads: {args.threads})")
    one_at_a_time(model, texts)
    per_batch_size(model, texts)
    service = ClassificationService(
        model, taxonomy, batch_max=settings.batch_max, batch_wait_ms=settings.batch_wait_ms
    )
    asyncio.run(through_the_batcher(service, texts))


if __name__ == "__main__":
    main()
