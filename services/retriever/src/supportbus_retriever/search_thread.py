"""The thread a store searches on, so the event loop never waits on a search.

Each in-process store (local, haystack) runs its searches one at a time on a worker thread of
its own, started by the first search: the service's records stay served while it computes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

Result = TypeVar("Result")


class SearchThread:
    """One worker thread, started on first use (then the process keeps one BLAS thread)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, search: Callable[..., Result], *args: Any) -> Result:
        """``search(*args)`` on the thread, awaited."""
        if self._executor is None:
            one_blas_thread()
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        return await asyncio.get_running_loop().run_in_executor(self._executor, search, *args)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def one_blas_thread() -> None:
    """Serving: one BLAS thread for the process. A search is a product of a few MB (the
    question vectors), about a millisecond on one core; OpenBLAS starts a thread per core and
    they spin between calls, which under load cost the retriever 11.5 ms of CPU per request
    instead of 3.3 (benchmarks/throughput.py, sustained embedded run)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
