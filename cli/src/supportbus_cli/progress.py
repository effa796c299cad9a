"""Progress bars for long commands (every long command shows progress)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from supportbus_runtime.embedding import TextEmbedder

console = Console(stderr=True)

_BATCH = 256


class LineProgress:
    """Progress for logs (CI, redirected output): a plain line at every tenth of the work,
    where a live bar would print nothing until it ends."""

    def __init__(self) -> None:
        self._tasks: dict[TaskID, list[Any]] = {}
        self._started = time.monotonic()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def add_task(
        self, description: str, total: float | None = None, visible: bool = True, **_: Any
    ) -> TaskID:
        task = TaskID(len(self._tasks))
        self._tasks[task] = [description, total or 0, 0, visible, -1]
        return task

    def advance(self, task: TaskID, advance: float = 1) -> None:
        state = self._tasks[task]
        state[2] += advance
        description, total, done, visible, last_tenth = state
        tenth = int(10 * done / total) if total else 10
        if visible and tenth > last_tenth:
            state[4] = tenth
            elapsed = time.monotonic() - self._started
            console.print(
                f"{description}: {done:g}/{total:g} ({10 * tenth}%) {elapsed:.0f} s", soft_wrap=True
            )


def progress_bar() -> Progress | LineProgress:
    if not console.is_terminal:
        return LineProgress()
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
