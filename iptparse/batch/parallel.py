"""Where the tasks run: here, in local processes (`--jobs N`), or on a Dask cluster (`--dask`).

Each runner takes the tasks and the payloads they name and yields results as they complete;
the caller puts them back in order, so the output does not depend on the runner. Processes
come from a fork server that has already parsed and traced a tiny ruleset (`warm.py`: workers
start warm, and no process whose other threads might hold locks is ever forked); as with any
multiprocessing, a script calling `evaluate(jobs=N)` needs the `if __name__ == "__main__":`
guard. Dask is imported only when asked for: the `dask` extra is optional.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from ..errors import IptparseError
from .captures import Payload
from .worker import Task, TaskResult, run_task

__all__ = ["BatchError", "DaskRunner", "LocalRunner", "ProcessRunner", "Runner", "make_runner"]


class BatchError(IptparseError):
    """A batch that cannot start (bad packets file, no Dask, unreachable cluster…)."""


class Runner(Protocol):
    workers: int

    def run(self, tasks: Sequence[Task], payloads: Mapping[str, Payload]
            ) -> Iterator[TaskResult]: ...

    def close(self) -> None: ...


class LocalRunner:
    """In this process, in order: the reference the others must agree with."""

    workers = 1

    def run(self, tasks: Sequence[Task], payloads: Mapping[str, Payload]
            ) -> Iterator[TaskResult]:
        for task in tasks:
            yield run_task(task, payloads[task.digest])

    def close(self) -> None:
        pass


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["iptparse.batch.warm"])
        return ctx
    return multiprocessing.get_context("spawn")


class ProcessRunner:
    """`jobs` worker processes; at most `2 × jobs` tasks in flight so memory stays bounded."""

    def __init__(self, jobs: int) -> None:
        self.workers = jobs
        self._pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_context())

    def run(self, tasks: Sequence[Task], payloads: Mapping[str, Payload]
            ) -> Iterator[TaskResult]:
        pending: set[Future[TaskResult]] = set()
        queue = iter(tasks)
        limit = 2 * self.workers
        try:
            while True:
                for task in queue:
                    pending.add(self._pool.submit(run_task, task, payloads[task.digest]))
                    if len(pending) >= limit:
                        break
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 30


class DaskRunner:
    """The same tasks on a Dask distributed cluster: each distinct capture is scattered to the
    cluster once; tasks refer to it, so workers fetch a capture's text only when they need it."""

    def __init__(self, address: Any) -> None:
        try:
            distributed: Any = importlib.import_module("distributed")
        except ImportError:
            raise BatchError("--dask needs the optional dask extra: "
                             "pip install 'iptparse[dask]' (dask[distributed])") from None
        self._distributed = distributed
        self._own = not isinstance(address, distributed.Client)
        if self._own:
            try:
                self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as exc:
                raise BatchError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        else:
            self.client = address
        self.workers = max(1, sum(self.client.nthreads().values()))

    def run(self, tasks: Sequence[Task], payloads: Mapping[str, Payload]
            ) -> Iterator[TaskResult]:
        client = self.client
        scattered: dict[str, Any] = {}
        futures = []
        for task in tasks:
            if task.digest not in scattered:
                scattered[task.digest] = client.scatter(payloads[task.digest], hash=False)
            futures.append(client.submit(run_task, task, scattered[task.digest], pure=False))
        try:
            for future in self._distributed.as_completed(futures):
                yield future.result()
        finally:
            client.cancel(futures + list(scattered.values()))

    def close(self) -> None:
        if self._own:
            self.client.close()


def make_runner(jobs: int = 1, dask: Any = None) -> Runner:
    """`dask` is a scheduler address or a `distributed.Client`; else `jobs` processes (1: here)."""
    if dask is not None:
        return DaskRunner(dask)
    if jobs < 1:
        raise BatchError(f"--jobs must be at least 1, not {jobs}")
    return LocalRunner() if jobs == 1 else ProcessRunner(jobs)
