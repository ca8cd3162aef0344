"""The micro-batcher on its own, with a fake predict: batching, order, budget, back-pressure, failures."""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import pytest

from service.batcher import BatcherClosed, BatchFailed, MicroBatcher, QueueFull, estimate_tokens

T = TypeVar("T")


class FakeModel:
    """Upper-cases texts, records every call, and can be held at a gate or made to fail."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def predict(self, texts: Sequence[str]) -> list[str]:
        self.calls.append(list(texts))
        self.entered.set()
        assert self.gate.wait(timeout=30)
        if any("FAIL" in text for text in texts):
            raise RuntimeError("bad batch")
        return [text.upper() for text in texts]


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(make(), timeout=60))


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)


def test_concurrent_requests_share_one_call_and_get_their_own_results() -> None:
    model = FakeModel()
    depths: list[int] = []
    sizes: list[int] = []

    async def main() -> list[list[str]]:
        batcher = MicroBatcher(
            model.predict,
            window_s=0.05,
            on_depth=depths.append,
            on_batch=lambda size, seconds: sizes.append(size),
        )
        batcher.start()
        requests = [[f"r{i}-{j}" for j in range(i + 1)] for i in range(5)]
        results = await asyncio.gather(*(batcher.submit(texts) for texts in requests))
        assert batcher.depth == 0
        await batcher.close()
        return results

    results = run(main)
    assert results == [[f"R{i}-{j}" for j in range(i + 1)] for i in range(5)]
    assert len(model.calls) == 1
    assert model.calls[0] == [f"r{i}-{j}" for i in range(5) for j in range(i + 1)]
    assert sizes == [15]
    assert max(depths) == 15
    assert depths[-1] == 0


def test_token_budget_splits_batches() -> None:
    model = FakeModel()
    text = "x" * 40  # 10 estimated tokens

    async def main() -> list[list[str]]:
        batcher = MicroBatcher(model.predict, window_s=0.05, token_budget=25)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit([f"{i}{text}"]) for i in range(5)))
        await batcher.close()
        return results

    results = run(main)
    assert [r[0][0] for r in results] == ["0", "1", "2", "3", "4"]
    assert [len(call) for call in model.calls] == [2, 2, 1]
    assert estimate_tokens(text) == 10


def test_a_full_queue_refuses_instead_of_growing() -> None:
    model = FakeModel()

    async def main() -> None:
        batcher = MicroBatcher(model.predict, window_s=0, capacity=3)
        batcher.start()
        model.gate.clear()
        first = asyncio.create_task(batcher.submit(["a", "b"]))
        await until(model.entered.is_set)  # being labeled: still counts against the queue
        with pytest.raises(QueueFull) as refused:
            await batcher.submit(["c", "d"])
        assert "retry" in str(refused.value)
        third = asyncio.create_task(batcher.submit(["c"]))  # 2 + 1 fits exactly
        await until(lambda: batcher.depth == 3)
        with pytest.raises(QueueFull):
            await batcher.submit(["e"])
        model.gate.set()
        assert await first == ["A", "B"]
        assert await third == ["C"]
        assert batcher.depth == 0
        assert await batcher.submit(["e", "f", "g"]) == ["E", "F", "G"]
        await batcher.close()

    run(main)


def test_a_request_larger_than_the_queue_runs_when_the_queue_is_empty() -> None:
    model = FakeModel()

    async def main() -> list[str]:
        batcher = MicroBatcher(model.predict, window_s=0, capacity=2)
        batcher.start()
        result = await batcher.submit(["a", "b", "c", "d", "e"])
        await batcher.close()
        return result

    assert run(main) == ["A", "B", "C", "D", "E"]


def test_a_failing_request_fails_alone_and_the_worker_goes_on() -> None:
    model = FakeModel()

    async def main() -> None:
        batcher = MicroBatcher(model.predict, window_s=0.05)
        batcher.start()
        good, bad, other = await asyncio.gather(
            batcher.submit(["fine"]),
            batcher.submit(["FAIL here"]),
            batcher.submit(["also fine", "too"]),
            return_exceptions=True,
        )
        assert good == ["FINE"]
        assert isinstance(bad, BatchFailed)
        assert "bad batch" in str(bad)
        assert other == ["ALSO FINE", "TOO"]
        # The combined batch failed, then each request was retried alone.
        assert model.calls[0] == ["fine", "FAIL here", "also fine", "too"]
        assert model.calls[1:] == [["fine"], ["FAIL here"], ["also fine", "too"]]
        with pytest.raises(BatchFailed):
            await batcher.submit(["FAIL again"])
        assert await batcher.submit(["later"]) == ["LATER"]
        assert batcher.depth == 0
        await batcher.close()

    run(main)


def test_with_no_window_an_idle_model_starts_at_once_and_a_busy_one_gathers_the_next_batch() -> None:
    model = FakeModel()

    async def main() -> None:
        batcher = MicroBatcher(model.predict)  # the default: no window
        batcher.start()
        model.gate.clear()
        first = asyncio.create_task(batcher.submit(["first"]))
        await until(model.entered.is_set)  # started alone, without waiting for company
        later = [asyncio.create_task(batcher.submit([f"later{i}"])) for i in range(3)]
        await until(lambda: batcher.depth == 4)
        model.gate.set()
        assert await first == ["FIRST"]
        assert [await task for task in later] == [["LATER0"], ["LATER1"], ["LATER2"]]
        assert model.calls == [["first"], ["later0", "later1", "later2"]]
        await batcher.close()

    run(main)


def test_a_cancelled_request_is_skipped() -> None:
    model = FakeModel()

    async def main() -> None:
        batcher = MicroBatcher(model.predict, window_s=0.05)
        batcher.start()
        abandoned = asyncio.create_task(batcher.submit(["gone"]))
        kept = asyncio.create_task(batcher.submit(["kept"]))
        await until(lambda: batcher.depth == 2)
        abandoned.cancel()
        assert await kept == ["KEPT"]
        assert abandoned.cancelled()
        assert model.calls == [["kept"]]
        assert batcher.depth == 0
        await batcher.close()

    run(main)


def test_close_answers_waiting_and_running_requests() -> None:
    model = FakeModel()

    async def main() -> None:
        batcher = MicroBatcher(model.predict, window_s=0, capacity=10)
        batcher.start()
        model.gate.clear()
        running = asyncio.create_task(batcher.submit(["running"]))
        await until(model.entered.is_set)
        waiting = asyncio.create_task(batcher.submit(["waiting"]))
        await until(lambda: batcher.depth == 2)
        await batcher.close()
        model.gate.set()
        for task in (running, waiting):
            with pytest.raises(BatcherClosed):
                await task
        assert batcher.depth == 0
        with pytest.raises(BatcherClosed):
            await batcher.submit(["after close"])

    run(main)


def test_empty_submit_returns_nothing_without_a_call() -> None:
    model = FakeModel()

    async def main() -> list[str]:
        batcher = MicroBatcher(model.predict)
        batcher.start()
        result = await batcher.submit([])
        await batcher.close()
        return result

    assert run(main) == []
    assert model.calls == []


def test_warm_up_runs_on_the_batches_thread_outside_the_queue_and_metrics() -> None:
    threads: list[int] = []
    sizes: list[int] = []

    def predict(texts: Sequence[str]) -> list[str]:
        threads.append(threading.get_ident())
        return [text.upper() for text in texts]

    async def main() -> list[str]:
        batcher = MicroBatcher(predict, on_batch=lambda size, seconds: sizes.append(size))
        with pytest.raises(BatcherClosed):
            await batcher.warm_up(["not started"])
        batcher.start()
        await batcher.warm_up(["warm"])
        assert batcher.depth == 0
        result = await batcher.submit(["a", "b"])
        await batcher.close()
        with pytest.raises(BatcherClosed):
            await batcher.warm_up(["closed"])
        return result

    assert run(main) == ["A", "B"]
    assert len(threads) == 2 and threads[0] == threads[1] != threading.get_ident()
    assert sizes == [2]  # the warm-up is not a served batch
