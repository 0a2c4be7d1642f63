"""The HTTP adapters under hostile load and hostile framing (issue 7, findings 3 and 9).

- Verification and handlers run in a bounded worker pool, not on the event loop: a request that blocks
  (or burns CPU) does not stall another client's call; past the pool's bound a request is answered at
  once with HTTP 503 and ``wsa:EndpointUnavailable`` rather than queued without bound.
- The body is bounded before it is read; a malformed Content-Length is HTTP 400, never a traceback or an
  unbounded read (WSGI ``Content-Length: -1`` read everything, ``abc`` raised ValueError).
"""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography.x509 import load_pem_x509_certificate
from lxml import etree

from http_support import LiveServer
from wssc import namespaces as ns
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.http_client import WsscClient
from wssc.adapters.throttle import WorkerPool
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.events import ApplicationRequest
from wssc.conversation.service import SecureConversationService
from wssc.security.faults import read_fault
from wssc.security.soap import SOAP11, SOAP12

PAYLOAD = b'<m:echo xmlns:m="urn:example:m">over http</m:echo>'
#: a request the instrumented service holds until the test releases it
BLOCKING = b"<block/>"
ENDPOINT_UNAVAILABLE = ns.qn(ns.WSA10, "EndpointUnavailable")


def _text(message: Any) -> str:
    return "".join(message.body.itertext())


class Gate:
    """Holds requests inside the worker (in ``receive`` or in a handler) until released."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def hold(self) -> None:
        self.entered.release()
        assert self.release.wait(30), "the test never released the gate"

    def wait_entered(self, count: int = 1) -> None:
        for _ in range(count):
            assert self.entered.acquire(timeout=10), "a held request never reached the worker"


def _app(service_keypair: Any, gate: Gate, where: str, pool: WorkerPool | None = None) -> WsscApp:
    cert, key = service_keypair
    service = SecureConversationService(ServiceCredentials(cert, key))
    app = WsscApp(service, default=echo_handler, path="/echo", **({"pool": pool} if pool else {}))
    if where == "receive":
        # held where the Python path verifies: in a worker, whether the request went there at once or the
        # compiled core declined it first (on the event loop: bounded work, ``is_light``)
        for receiver in service._receivers.values():

            def unprotect(data: Any, *, real: Any = receiver.unprotect, **kw: Any) -> Any:
                if data == BLOCKING:
                    gate.hold()
                return real(data, **kw)

            receiver.unprotect = unprotect  # type: ignore[method-assign]
    else:

        def handler(request: ApplicationRequest) -> list[Any]:
            if _text(request.message) == "block":
                gate.hold()
            return list(request.message.payload())

        app.default = handler
    return app


def _blocking_request(server: LiveServer, cert: Any, where: str) -> Callable[[], httpx.Response | Any]:
    """What a slow client sends: bytes the instrumented ``receive`` holds, or a legitimate call whose
    handler blocks (the handler case: a handler waiting on a database, say)."""
    if where == "receive":
        return lambda: httpx.post(server.url, content=BLOCKING, timeout=30)
    client = WsscClient(server.url, ClientBootstrap(cert))
    client.establish()
    return lambda: client.call(b'<m:echo xmlns:m="urn:example:m">block</m:echo>', "urn:example:echo")


@pytest.fixture
def background() -> Iterator[Callable[[Callable[[], Any]], list[Any]]]:
    threads: list[threading.Thread] = []

    def start(work: Callable[[], Any]) -> list[Any]:
        out: list[Any] = []
        thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
        thread.start()
        threads.append(thread)
        return out

    yield start
    for thread in threads:
        thread.join(30)


@pytest.mark.parametrize("where", ["receive", "handler"])
def test_attack_slow_request_does_not_stall_another_clients_call(service_keypair, background, where) -> None:  # type: ignore[no-untyped-def]
    """Before the fix ``receive()`` ran on the event loop: while one request was being verified, no other
    client got an answer (a legitimate call took 6.1 s instead of 7 ms behind a hostile one)."""
    cert, _ = service_keypair
    gate = Gate()
    with LiveServer(_app(service_keypair, gate, where)) as server:
        slow = _blocking_request(server, cert, where)
        client = WsscClient(server.url, ClientBootstrap(cert), http=httpx.Client(timeout=5))
        held = background(slow)
        try:
            gate.wait_entered()
            started = time.monotonic()
            assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"  # positive control
            assert time.monotonic() - started < 5
            assert not held, "the slow request finished before it was released"
        finally:
            gate.release.set()
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            time.sleep(0.01)
        assert held, "the held request never completed after release"
        client.close()


def test_attack_flood_beyond_the_queue_is_refused_at_once_with_503(service_keypair, background, caplog) -> None:  # type: ignore[no-untyped-def]
    """One worker, one queue place: the third concurrent request is answered at once with HTTP 503 and a
    ``wsa:EndpointUnavailable`` fault; the admitted ones complete; then the pool admits again."""
    cert, _ = service_keypair
    gate = Gate()
    pool = WorkerPool(workers=1, queue=1)
    with LiveServer(_app(service_keypair, gate, "receive", pool)) as server:
        running = background(lambda: httpx.post(server.url, content=BLOCKING, timeout=30))
        gate.wait_entered()
        queued = background(lambda: httpx.post(server.url, content=BLOCKING, timeout=30))
        deadline = time.monotonic() + 10
        while pool.pending < 2:
            assert time.monotonic() < deadline, "the second request was not queued"
            time.sleep(0.01)
        try:
            for soap in (SOAP12, SOAP11):
                started = time.monotonic()
                refused = httpx.post(server.url, content=PAYLOAD, headers={"content-type": soap.content_type})
                assert time.monotonic() - started < 2
                assert refused.status_code == 503
                assert refused.headers["retry-after"] == "1"
                assert refused.headers["content-type"] == soap.content_type
                root = etree.fromstring(refused.content)
                assert root.tag == soap.qname("Envelope")
                fault = read_fault(root)
                assert fault is not None and fault.code == ENDPOINT_UNAVAILABLE
                assert root.find(f".//{{{ns.WSA10}}}RetryAfter").text == "1000"  # type: ignore[union-attr]
            full = [r for r in caplog.records if r.getMessage().startswith("worker pool full")]
            assert len(full) == 1  # the operator hears of the flood once
        finally:
            gate.release.set()
        gate.wait_entered()  # the queued one reached the worker after the first finished
        deadline = time.monotonic() + 10
        while not (running and queued) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [r.status_code for r in running + queued] == [500, 500]  # processed: faults for "<block/>"
        assert pool.pending == 0
        client = WsscClient(server.url, ClientBootstrap(cert))  # admitted again: positive control
        assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"
        client.close()


def test_pool_bound_counts_running_and_waiting_jobs(caplog: pytest.LogCaptureFixture) -> None:
    pool = WorkerPool(workers=2, queue=1)
    release = threading.Event()
    futures = [pool.submit(release.wait, 10) for _ in range(3)]
    assert all(f is not None for f in futures) and pool.full
    with caplog.at_level("WARNING", logger="wssc.adapters.throttle"):
        assert pool.submit(lambda: None) is None  # refused
        assert pool.submit(lambda: None) is None
    assert [r.getMessage() for r in caplog.records] == [
        "worker pool full (2 workers, 1 queued): refusing requests"
    ]  # one warning per flood, not one per refused request
    later = pool.submit(lambda: "later step", admit=False)  # an admitted request's later step: never refused
    assert later is not None
    release.set()
    assert later.result(10) == "later step"
    for future in futures:
        assert future is not None and future.result(10) is True
    deadline = time.monotonic() + 5
    while pool.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.pending == 0 and not pool.full
    assert caplog.records[-1].getMessage() == "worker pool has room again: accepting requests"
    with pytest.raises(ValueError):
        WorkerPool(workers=0)


def test_legitimate_calls_from_many_clients_at_once(live_app, service_keypair) -> None:  # type: ignore[no-untyped-def]
    """Positive control for the pool: concurrent clients all get their own answers."""
    cert, _ = service_keypair
    with live_app() as server:
        clients = [WsscClient(server.url, ClientBootstrap(cert)) for _ in range(6)]
        results: list[str] = []

        def work(index: int) -> None:
            body = f'<m:echo xmlns:m="urn:example:m">client {index}</m:echo>'.encode()
            for _ in range(3):
                results.append(_text(clients[index].call(body, "urn:example:echo")))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == sorted(f"client {i}" for i in range(len(clients)) for _ in range(3))
        for client in clients:
            client.close()


# -- framing: WSGI ---------------------------------------------------------------------------------------


class CountingInput(io.BytesIO):
    """``wsgi.input`` that records how much the application asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.requested: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.requested.append(size)
        return super().read(size)


def _wsgi(service_keypair: Any, max_body: int = 4096) -> Callable[..., tuple[int, bytes, CountingInput]]:
    cert, key = service_keypair
    app = WsscApp(SecureConversationService(ServiceCredentials(cert, key)), default=echo_handler, max_body=max_body)
    wsgi = app.wsgi()

    def call(length: str | None, body: bytes = b"x" * 100, **extra: Any) -> tuple[int, bytes, CountingInput]:
        stream = CountingInput(body)
        environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "wsgi.input": stream, **extra}
        if length is not None:
            environ["CONTENT_LENGTH"] = length
        status: list[str] = []
        data = b"".join(wsgi(environ, lambda s, h: status.append(s)))
        return int(status[0].split()[0]), data, stream

    return call


@pytest.mark.parametrize("length", ["-1", "abc", "+100", "1e2", "0x64", "1_00", "10 0", "\u0661\u0660\u0660", "5, 5"])
def test_attack_malformed_wsgi_content_length_is_400_and_nothing_is_read(service_keypair, length: str) -> None:  # type: ignore[no-untyped-def]
    """``-1`` once read the whole stream without bound; ``abc`` once raised ValueError (a traceback)."""
    status, data, stream = _wsgi(service_keypair)(length)
    assert status == 400 and b"Traceback" not in data
    assert stream.requested == []


@pytest.mark.parametrize("length", ["4097", "99999999999999999999999999", "9" * 5000])
def test_attack_oversized_wsgi_content_length_is_413_before_reading(service_keypair, length: str) -> None:  # type: ignore[no-untyped-def]
    status, data, stream = _wsgi(service_keypair)(length)
    assert status == 413 and stream.requested == []
    fault = read_fault(etree.fromstring(data))
    assert fault is not None and fault.error is not None


def test_wsgi_without_content_length_is_411_unless_the_server_ends_the_stream(service_keypair) -> None:  # type: ignore[no-untyped-def]
    call = _wsgi(service_keypair, max_body=4096)
    status, _, stream = call(None)
    assert status == 411 and stream.requested == []
    status, _, stream = call("")
    assert status == 411 and stream.requested == []
    # A chunked upload (the server terminates wsgi.input): read with the bound, refused past it.
    status, _, stream = call(None, b"y" * 10_000, **{"wsgi.input_terminated": True})
    assert status == 413 and stream.requested == [4097]
    status, data, stream = call(None, b"garbage", **{"wsgi.input_terminated": True})
    assert status == 500 and read_fault(etree.fromstring(data)) is not None  # processed: a fault, not a 4xx


def test_wsgi_well_formed_lengths_are_read_exactly(service_keypair) -> None:  # type: ignore[no-untyped-def]
    call = _wsgi(service_keypair)
    for length in ("7", " 7 ", "0007"):
        status, data, stream = call(length, b"garbage and more")
        assert status == 500 and stream.requested == [7]
        assert read_fault(etree.fromstring(data)) is not None


# -- framing: ASGI ---------------------------------------------------------------------------------------


def _asgi(service_keypair: Any, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]) -> tuple[Any, int]:
    """Drive the ASGI app directly with ``chunks`` as the body; (start message or None, chunks taken)."""
    cert, key = service_keypair
    app = WsscApp(SecureConversationService(ServiceCredentials(cert, key)), default=echo_handler, max_body=4096)
    taken = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal taken
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        taken += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return (sent[0] if sent else None), taken


def _endless(size: int = 1000) -> Iterator[bytes]:
    while True:
        yield b"z" * size


def test_attack_endless_chunked_body_is_cut_at_the_limit(service_keypair) -> None:  # type: ignore[no-untyped-def]
    start, taken = _asgi(service_keypair, [], _endless())
    assert start is not None and start["status"] == 413
    assert taken <= 5  # 4096 bytes of 1000-byte chunks: the fifth one is over the limit


@pytest.mark.parametrize("length", [b"-1", b"abc", b"+5", b"1e3"])
def test_attack_malformed_asgi_content_length_is_400(service_keypair, length: bytes) -> None:  # type: ignore[no-untyped-def]
    start, taken = _asgi(service_keypair, [(b"content-length", length)], _endless())
    assert start is not None and start["status"] == 400 and taken == 0


def test_attack_declared_oversized_asgi_body_is_413_before_reading(service_keypair) -> None:  # type: ignore[no-untyped-def]
    start, taken = _asgi(service_keypair, [(b"content-length", b"9" * 5000)], _endless())
    assert start is not None and start["status"] == 413 and taken == 0


def test_client_gone_mid_body_gets_nothing_processed(service_keypair) -> None:  # type: ignore[no-untyped-def]
    """A disconnect is not the end of the body: before, the truncated body was verified and answered."""
    start, taken = _asgi(service_keypair, [], iter([b"<partial"]))
    assert start is None and taken == 1


@pytest.mark.parametrize("length", [b"-1", b"abc"])
def test_uvicorn_refuses_malformed_content_length_without_a_traceback(live_app, length: bytes) -> None:  # type: ignore[no-untyped-def]
    with live_app() as server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\nhello")
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400") and b"Traceback" not in answer


def test_cli_serve_takes_the_pool_bounds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from http_support import ServeProcess

    node = ServeProcess(tmp_path, "--threads", "1", "--queue", "0")
    try:
        client = WsscClient(node.url, ClientBootstrap(load_pem_x509_certificate(node.cert_path.read_bytes())))
        assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"
        client.close()
    finally:
        node.stop()
    refused = subprocess.run(
        [sys.executable, "-m", "wssc", "serve", "--queue", "-1"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "--queue" in refused.stderr
