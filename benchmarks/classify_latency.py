"""Benchmark: CPU cost of one classification, as the classifier service pays it (one request at a
time: embedding + linear layer). Prints figures; asserts nothing (the machine is shared).

    uv run python benchmarks/classify_latency.py [--requests 500]
"""

from __future__ import annotations

import argparse
import statistics
import time

from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_classifier.training import read_labelled_csv
from supportbus_cli.settings import CliSettings
from supportbus_runtime.embedding import MiniLMEmbedder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    settings = ClassifierSettings()
    embedder = MiniLMEmbedder(settings.resolved_model_path(settings.shared_dir), threads=1)
    model = LinearIntentModel.load(
        settings.model_path, embedder=embedder, taxonomy=Taxonomy.load(settings.taxonomy_path)
    )
    texts = read_labelled_csv(CliSettings().banking77_train()).texts[: args.requests]
    model.predict(texts[:5])  # warm-up
    wall, cpu = [], []
    for text in texts:
        w, c = time.perf_counter(), time.process_time()
        model.predict([text])
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    wall.sort()
    print(f"requests: {len(texts)} (one onnxruntime thread)")
    print(
        f"wall ms: mean {statistics.mean(wall):.2f}  p50 {wall[len(wall) // 2]:.2f}  "
        f"p95 {wall[int(len(wall) * 0.95)]:.2f}"
    )
    print(f"cpu ms:  mean {statistics.mean(cpu):.2f}")


if __name__ == "__main__":
    main()
