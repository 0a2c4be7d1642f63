"""The bounded worker pool an ASGI server runs the receive path in, and the answer past its bound.

Verifying a request is CPU work (parsing, digests, decryption) that an unauthenticated sender can make
expensive; done on the event loop it stalls every other client (issue 7, finding 3).  :class:`WorkerPool`
runs it in threads instead, at most ``workers`` at once with at most ``queue`` more waiting, and refuses
the rest at once, as WCF's ``ServiceThrottlingBehavior`` bounds concurrent calls and uvicorn's
``--limit-concurrency`` bounds requests in flight.  A refused request gets HTTP 503 with a
``wsa:EndpointUnavailable`` fault (WS-Addressing 1.0 SOAP Binding, section 6, the predefined "Endpoint
Unavailable" fault with its ``wsa:RetryAfter`` detail; neither WS-Trust nor WS-SC has a "busy" code, and
WCF clients turn a 503 into ``ServerTooBusyException``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

from lxml import etree

from wssc import namespaces as ns
from wssc.primitives.xml import serialize
from wssc.security.faults import WSA_FAULT_ACTION
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion

T = TypeVar("T")
_log = logging.getLogger(__name__)

#: WCF ``ServiceThrottlingBehavior.MaxConcurrentCalls``: 16 times the processor count.  Threads beyond the
#: cores do not add CPU under the GIL; they let handlers that wait on I/O overlap, which is WCF's reason too.
MAX_CONCURRENT_CALLS: Final = 16 * (os.cpu_count() or 1)
#: Requests admitted beyond the running ones, waiting for a worker.  WCF queues calls past
#: ``MaxConcurrentCalls`` without a bound of its own and bounds the sessions that can be waiting with
#: ``MaxConcurrentSessions``, 100 times the processor count; we take that as the queue's bound.
MAX_QUEUED_CALLS: Final = 100 * (os.cpu_count() or 1)
#: What the busy answer asks the client to wait, in seconds (HTTP ``Retry-After``, RFC 9110 section 10.2.3;
#: ``wsa:RetryAfter`` carries it in milliseconds).  WCF and uvicorn send none; one second lets a
#: well-behaved client back off without giving up.
RETRY_AFTER_SECONDS: Final = 1

#: A request body at most this large, that the compiled core verifies (a context message: no RSA, no Renew),
#: is verified on the event loop rather than in a worker: there it costs the core about 0.1 ms a KiB
#: (``benchmarks/compare.py``), less than the handoff to a thread and back costs under the GIL
#: (``benchmarks/serve.py``), and the Python path, should the core decline it, stays within a few
#: milliseconds.  No precedent in WCF, whose I/O threads carry no GIL.
LOOP_REQUEST_BYTES: Final = 16 * 1024

_REASON: Final = "The endpoint is unable to process the message at this time."


class WorkerPool:
    """Threads for blocking work, with admission control: :meth:`submit` refuses (returns None) when
    ``workers + queue`` jobs are running or waiting already.  Thread-safe; one pool may serve many apps."""

    def __init__(self, workers: int = MAX_CONCURRENT_CALLS, queue: int = MAX_QUEUED_CALLS) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a pool needs at least one worker and a queue bound of zero or more")
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wssc-worker")
        self._lock = threading.Lock()
        self._pending = 0
        #: set while refusing, so that a flood logs one warning rather than one per request
        self._refusing = False

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        return self._pending

    @property
    def full(self) -> bool:
        return self._pending >= self.workers + self.queue

    def admits(self) -> bool:
        """Whether a new request would be admitted now (a cheap check before reading its body)."""
        return not self._refusal(reserve=False)

    def submit(self, fn: Callable[..., T], *args: object, admit: bool = True) -> Future[T] | None:
        """Run ``fn(*args)`` in a worker; None when refused.  ``admit=False`` is for the later steps of a
        request already admitted: they are counted but never refused (refusing them would waste the
        work done and leave the client without an answer)."""
        slot = self._slot(admit)
        return None if slot is None else self._start(slot, fn, *args)

    def _slot(self, admit: bool) -> _Slot | None:
        """A place for one job (None when refused; ``admit=False``: never refused)."""
        if admit and self._refusal(reserve=True):
            return None
        if not admit:
            with self._lock:
                self._pending += 1
        return _Slot(self)

    def _start(self, slot: _Slot, fn: Callable[..., T], *args: object) -> Future[T]:
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            slot.release()
            raise
        # Released when the job ends or is cancelled before it starts, not when an awaiting task is
        # cancelled: a thread cannot be stopped, and the bound is on the work the threads hold.
        future.add_done_callback(slot.release)
        return future

    def _refusal(self, reserve: bool) -> bool:
        """True when full (the first refusal of a flood is logged); otherwise reserve a place if asked."""
        with self._lock:
            refused = self._pending >= self.workers + self.queue
            first = refused and not self._refusing
            self._refusing = self._refusing or refused
            if reserve and not refused:
                self._pending += 1
        if first:  # logged outside the lock
            _log.warning("worker pool full (%d workers, %d queued): refusing requests", self.workers, self.queue)
        return refused

    def _done(self, _future: object) -> None:
        with self._lock:
            self._pending -= 1
            drained = self._refusing and self._pending < self.workers  # the queue has emptied
            self._refusing = self._refusing and not drained
        if drained:
            _log.warning("worker pool has room again: accepting requests")

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run a later step of an admitted request in a worker and wait for it."""
        future = self.submit_async(fn, *args, admit=False)
        assert future is not None
        return await future

    def submit_async(self, fn: Callable[..., T], *args: object, admit: bool = True) -> asyncio.Future[T] | None:
        """:meth:`submit` for a coroutine of the running loop: a future of that loop, None when refused.  The worker
        hands the outcome to the loop itself, one ``call_soon_threadsafe``, where ``asyncio.wrap_future`` chains a
        second future through callbacks on both sides (a request pays this handoff once each way).  Cancelling the
        returned future cancels the job if it has not started, as ``wrap_future`` does."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[T] = loop.create_future()
        slot = self._slot(admit)
        if slot is None:
            return None

        def job() -> None:
            # the place is given back before the outcome is handed over: a client that sends its next request
            # once it has its answer finds the place its last request held free again (given back after, as
            # the executor's callback does, a worker still holding it could get the next request refused)
            value: T | None = None
            error: BaseException | None = None
            try:
                value = fn(*args)
            except BaseException as raised:  # every outcome goes to the awaiting coroutine, as wrap_future's
                error = raised
            slot.release()
            _deliver(loop, outcome, value, error)

        future = self._start(slot, job)
        outcome.add_done_callback(lambda done: future.cancel() if done.cancelled() else None)
        return outcome


class _Slot:
    """One job's place in a :class:`WorkerPool`, given back once: when the job's outcome is ready, or when the
    job ends or is cancelled before it starts (the executor's callback), whichever comes first."""

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool
        self._held = True
        self._lock = threading.Lock()

    def release(self, _future: object = None) -> None:
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._pool._done(None)


def _deliver(
    loop: asyncio.AbstractEventLoop, outcome: asyncio.Future[T], value: T | None, error: BaseException | None
) -> None:
    """From a worker: settle ``outcome`` on its loop, unless the loop is gone (shutdown: nobody awaits it)."""

    def settle() -> None:
        if outcome.cancelled():
            return
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(value)  # type: ignore[arg-type]

    with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile
        loop.call_soon_threadsafe(settle)


def soap_version_of_content_type(content_type: str) -> SOAPVersion:
    """The SOAP version a request's media type names (SOAP 1.2 part 2 section 7.1.4: application/soap+xml;
    SOAP 1.1 section 6.1.1: text/xml), without reading the body: a refusal must cost nothing."""
    media = content_type.split(";", 1)[0].strip().lower()
    return SOAP11 if media == "text/xml" else SOAP12


def busy_fault(soap: SOAPVersion, retry_after_seconds: int = RETRY_AFTER_SECONDS) -> bytes:
    """The ``wsa:EndpointUnavailable`` fault (WS-Addressing 1.0 SOAP Binding, section 6) with its
    ``wsa:RetryAfter`` detail; in SOAP 1.1, which has no subcodes, the subcode is the faultcode and the
    detail travels in a ``wsa:FaultDetail`` header, as that binding's SOAP 1.1 mapping says."""
    nsmap = {"s": soap.namespace, "wsa": ns.WSA10}
    env = etree.Element(soap.qname("Envelope"), nsmap=nsmap)
    header = etree.SubElement(env, soap.qname("Header"))
    etree.SubElement(header, ns.qn(ns.WSA10, "Action")).text = WSA_FAULT_ACTION
    fault = etree.SubElement(etree.SubElement(env, soap.qname("Body")), soap.qname("Fault"))
    retry = etree.Element(ns.qn(ns.WSA10, "RetryAfter"))
    retry.text = str(retry_after_seconds * 1000)
    if soap is SOAP11:
        etree.SubElement(header, ns.qn(ns.WSA10, "FaultDetail")).append(retry)
        etree.SubElement(fault, "faultcode").text = "wsa:EndpointUnavailable"
        etree.SubElement(fault, "faultstring").text = _REASON
    else:
        code = etree.SubElement(fault, soap.qname("Code"))
        etree.SubElement(code, soap.qname("Value")).text = f"s:{soap.receiver_code}"
        sub = etree.SubElement(code, soap.qname("Subcode"))
        etree.SubElement(sub, soap.qname("Value")).text = "wsa:EndpointUnavailable"
        text = etree.SubElement(etree.SubElement(fault, soap.qname("Reason")), soap.qname("Text"))
        text.set(ns.qn(ns.XML, "lang"), "en")
        text.text = _REASON
        etree.SubElement(fault, soap.qname("Detail")).append(retry)
    return serialize(env)
