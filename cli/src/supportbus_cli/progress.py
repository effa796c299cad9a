"""Progress bars for long commands (every long command shows progress)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from supportbus_runtime.embedding import TextEmbedder

console = Console(stderr=True)

_BATCH = 256


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def embed_with_progress(
    embedder: TextEmbedder, texts: Sequence[str], label: str
) -> NDArray[np.float32]:
    parts = []
    with progress_bar() as progress:
        task = progress.add_task(label, total=len(texts))
        for start in range(0, len(texts), _BATCH):
            chunk = texts[start : start + _BATCH]
            parts.append(embedder.embed(chunk))
            progress.advance(task, len(chunk))
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
