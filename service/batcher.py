"""An asyncio micro-batcher: concurrent requests share one `Labeler.predict` call.

Requests put their paragraphs on a queue bounded in paragraphs. One worker task waits until the oldest
waiting request is `window` seconds old (or the waiting text reaches `token_budget` approximate tokens),
takes what is there, and runs `predict` on the combined list in a single dedicated thread, so the event
loop never blocks and the model never runs twice at once. Each request gets back exactly its own results,
in order. A full queue refuses new work (`QueueFull`) instead of growing.
"""

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger("stance.service")

T = TypeVar("T")


class QueueFull(Exception):
    """The queue cannot take these paragraphs now; the client should retry later."""

    def __init__(self, waiting: int, wanted: int, capacity: int) -> None:
        super().__init__(
            f"the server is busy: {waiting} paragraphs are waiting and {wanted} more would exceed the "
            f"queue of {capacity}; retry shortly"
        )
        self.waiting = waiting
        self.wanted = wanted
        self.capacity = capacity


class BatchFailed(Exception):
    """`predict` raised on this request's paragraphs."""


class BatcherClosed(Exception):
    """The batcher is shutting down and takes no more work."""


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (about 4 characters per word piece in English)."""
    return max(1, math.ceil(len(text) / 4))


@dataclass
class _Job(Generic[T]):
    texts: list[str]
    tokens: int
    future: "asyncio.Future[list[T]]"
    enqueued: float = field(default_factory=time.monotonic)


class MicroBatcher(Generic[T]):
    """Gather paragraphs from concurrent requests into batches for one `predict` function."""

    def __init__(
        self,
        predict: Callable[[Sequence[str]], list[T]],
        *,
        window_s: float = 0.0,
        token_budget: int = 16_384,
        capacity: int = 1024,
        on_batch: Callable[[int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._predict = predict
        self.window_s = window_s
        self.token_budget = token_budget
        self.capacity = capacity
        self._on_batch = on_batch or (lambda size, seconds: None)
        self._on_depth = on_depth or (lambda depth: None)
        self._jobs: deque[_Job[T]] = deque()
        self._waiting_tokens = 0
        self._depth = 0  # paragraphs accepted and not yet answered (waiting or being labeled)
        self._arrived = asyncio.Event()  # set while jobs are waiting
        self._full = asyncio.Event()  # set while waiting jobs reach the token budget
        self._executor: ThreadPoolExecutor | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def depth(self) -> int:
        """Paragraphs accepted and not yet answered."""
        return self._depth

    def start(self) -> None:
        """Start the worker task; call from inside the running event loop."""
        if self._worker is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stance-predict")
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="stance-batcher")

    async def warm_up(self, texts: Sequence[str]) -> None:
        """Run `predict` once on the thread that runs every batch, outside the queue.

        Torch keeps a team of OpenMP threads for each thread that calls it. A first call from any other
        thread (a loader's) leaves a second team behind, and every later call from this thread then ran
        1.5-1.9x slower: a single paragraph took 34-43 ms instead of 21-24 ms with the shipped model on
        2 cores (bench/README.md).
        """
        if self._closed or self._executor is None:
            raise BatcherClosed("the batcher is not running")
        await asyncio.get_running_loop().run_in_executor(self._executor, self._predict, list(texts))

    async def close(self) -> None:
        """Stop the worker; requests still waiting get `BatcherClosed`."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        while self._jobs:
            job = self._jobs.popleft()
            if not job.future.done():
                job.future.set_exception(BatcherClosed("the server is shutting down"))
        if self._executor is not None:
            # A predict already running finishes in its thread; nothing waits for it.
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._set_depth(0)

    async def submit(self, texts: Sequence[str]) -> list[T]:
        """Label `texts` (one request's paragraphs) and return their results in order.

        Raises `QueueFull` when the queue cannot take them; a request larger than the whole queue is
        admitted only when nothing else is waiting, so it can always succeed eventually.
        """
        if self._closed or self._worker is None:
            raise BatcherClosed("the batcher is not running")
        texts = list(texts)
        if not texts:
            return []
        if self._depth + len(texts) > self.capacity and self._depth > 0:
            raise QueueFull(self._depth, len(texts), self.capacity)
        future: asyncio.Future[list[T]] = asyncio.get_running_loop().create_future()
        job = _Job(texts, sum(estimate_tokens(t) for t in texts), future)
        self._jobs.append(job)
        self._waiting_tokens += job.tokens
        self._set_depth(self._depth + len(texts))
        self._arrived.set()
        if self._waiting_tokens >= self.token_budget:
            self._full.set()
        try:
            return await future
        except asyncio.CancelledError:
            # The client went away; the worker skips a job whose future is cancelled.
            future.cancel()
            raise

    def _set_depth(self, depth: int) -> None:
        self._depth = depth
        self._on_depth(depth)

    def _finish(self, job: _Job[T]) -> None:
        self._set_depth(self._depth - len(job.texts))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._arrived.wait()
            if not self._jobs:
                self._arrived.clear()
                continue
            # Wait until the oldest job has waited a full window, or the waiting text fills the budget.
            delay = self._jobs[0].enqueued + self.window_s - time.monotonic()
            if delay > 0 and not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._full.wait()
            batch = self._take()
            try:
                await self._process(loop, batch)
            except asyncio.CancelledError:
                for job in batch:
                    self._fail(job, BatcherClosed("the server is shutting down"))
                raise
            except Exception as error:  # a bug here must not kill the worker and strand every request
                log.exception("micro-batcher error")
                for job in batch:
                    self._fail(job, error)
            finally:
                for job in batch:
                    self._finish(job)

    def _take(self) -> list[_Job[T]]:
        """Jobs from the front of the queue up to the token budget (always at least one)."""
        batch: list[_Job[T]] = []
        tokens = 0
        while self._jobs:
            job = self._jobs[0]
            if batch and tokens + job.tokens > self.token_budget:
                break
            self._jobs.popleft()
            self._waiting_tokens -= job.tokens
            if job.future.done():  # cancelled by a client that went away: no work to do
                self._finish(job)
                continue
            batch.append(job)
            tokens += job.tokens
        if not self._jobs:
            self._arrived.clear()
        if self._waiting_tokens < self.token_budget:
            self._full.clear()
        return batch

    async def _process(self, loop: asyncio.AbstractEventLoop, batch: list[_Job[T]]) -> None:
        if not batch:
            return
        texts = [text for job in batch for text in job.texts]
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self._predict, texts)
        except Exception as error:
            if len(batch) == 1:
                self._fail(batch[0], error)
                return
            # One request's paragraphs may be the cause: retry each alone so the others still get answers.
            log.warning("batch of %d requests failed (%r); retrying each alone", len(batch), error)
            for job in batch:
                await self._process(loop, [job])
            return
        self._on_batch(len(texts), time.perf_counter() - started)
        if len(results) != len(texts):
            mismatch = RuntimeError(f"predict returned {len(results)} results for {len(texts)} texts")
            for job in batch:
                self._fail(job, mismatch)
            return
        position = 0
        for job in batch:
            mine = results[position : position + len(job.texts)]
            position += len(job.texts)
            if not job.future.done():
                job.future.set_result(mine)

    @staticmethod
    def _fail(job: _Job[T], error: Exception) -> None:
        if job.future.done():
            return
        if isinstance(error, BatcherClosed):
            job.future.set_exception(error)
            return
        log.error("predict failed on %d paragraphs: %r", len(job.texts), error)
        failure = BatchFailed(f"{type(error).__name__}: {error}")
        failure.__cause__ = error
        job.future.set_exception(failure)
