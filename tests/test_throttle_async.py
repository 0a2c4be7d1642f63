"""WorkerPool.submit_async: the handoff the ASGI adapter awaits, with the admission and accounting of submit."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest

from wssc.adapters.throttle import WorkerPool


def drained(pool: WorkerPool) -> bool:
    """The pool's count falls to zero once its threads are done (a job ends just after handing its outcome over)."""
    deadline = time.monotonic() + 5
    while pool.pending and time.monotonic() < deadline:
        time.sleep(0.001)
    return pool.pending == 0


def test_the_outcome_reaches_the_loop_from_a_worker() -> None:
    pool = WorkerPool(workers=2, queue=0)

    async def scenario() -> tuple[str, str]:
        future = pool.submit_async(lambda: threading.current_thread().name)
        assert future is not None
        return await future, threading.current_thread().name

    worker, loop = asyncio.run(scenario())
    assert worker.startswith("wssc-worker") and worker != loop
    assert drained(pool)


def test_an_exception_reaches_the_awaiting_coroutine() -> None:
    pool = WorkerPool(workers=1, queue=0)

    def fails() -> None:
        raise ValueError("in the worker")

    async def scenario() -> None:
        future = pool.submit_async(fails)
        assert future is not None
        await future

    with pytest.raises(ValueError, match="in the worker"):
        asyncio.run(scenario())
    assert drained(pool)


def test_refused_when_full_and_cancelling_a_queued_job_keeps_it_from_running() -> None:
    pool = WorkerPool(workers=1, queue=1)
    release, ran = threading.Event(), []

    async def scenario() -> None:
        busy = pool.submit_async(release.wait)
        queued = pool.submit_async(lambda: ran.append("queued"))
        assert busy is not None and queued is not None
        assert pool.submit_async(lambda: None) is None  # workers + queue taken: refused, as submit refuses
        queued.cancel()
        await asyncio.sleep(0)  # the cancellation reaches the job (a callback of the loop) before a worker is free
        release.set()
        await busy
        await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert ran == []
    assert drained(pool)


def test_a_place_is_free_again_once_its_outcome_reaches_the_loop() -> None:
    """A client that sends its next request once it has its answer is never refused for the one before: the
    worker gives its place back before it hands the outcome over (found by test_cli_serve_takes_the_pool_bounds,
    whose Cancel got HTTP 503 from a one-thread, no-queue server on a loaded machine).  GIL switches made very
    frequent widen the window the executor's own callback left: 84 to 122 refusals in 300 before the fix."""
    pool = WorkerPool(workers=1, queue=0)
    refused = 0

    async def scenario() -> None:
        nonlocal refused
        for _ in range(300):
            future = pool.submit_async(lambda: sum(range(200)))
            assert future is not None
            await future
            if not pool.admits():
                refused += 1
                assert drained(pool)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        asyncio.run(scenario())
    finally:
        sys.setswitchinterval(interval)
    assert refused == 0
