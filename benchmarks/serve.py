"""Requests per second of ``wssc serve``'s app against a plain ASGI echo app, on the same uvicorn, in one run.

Issue 11 (the compiled core) asks for >= 0.3x; this measures where the service stands.  Both apps run in a
uvicorn of one worker on loopback, each in a process of its own; the load generator is ``--clients`` threads on
raw keep-alive sockets in this process.  The wssc requests are protected beforehand, each a fresh message under
one established context (1 KB echo, Basic256, derived keys, the demo's policy), so the figure is the service's
cost, not the client's: every message is new to the replay cache, and the timing covers HTTP, verification,
decryption, the echo and the protected answer.  The plain app answers the same bytes back.

The two servers are measured in alternating rounds (plain, wssc, plain, wssc...), each round on its own share of
the prepared requests, and the figure is the median of the rounds' ratios: on a machine shared with other work a
load that comes and goes then weighs on both sides alike, where one long run of each would charge it to whichever
ran at the wrong time.  Each round also reads the server process's CPU time (user + system, every thread), so
the CPU each request costs the server is printed too: their ratio is the throughput ratio of a server that has
a core to itself, and it moves far less with the machine's load than requests/s do.

The demo's echo answers the payload as the core verified it (``payload_xml()``): no lxml tree is built for a
request.  ``--handler tree`` serves an echo that reads the payload as lxml elements instead (``payload()``),
which builds, and checks, the lxml view of every request: the cost an application that reads trees pays.

    PYTHONPATH=src python benchmarks/serve.py [--seconds 5] [--clients 4] [--rounds 5] [--handler demo|tree]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from wssc.adapters.cli.conversation import DEMO_ACTION, build_app
from wssc.adapters.handlers import nonblocking
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.events import ApplicationRequest
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3

PAYLOAD = b'<echo xmlns="urn:wssc:demo">' + b"x" * 1000 + b"</echo>"


async def plain_echo(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """The floor: an ASGI app that answers the request body as it came."""
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/soap+xml"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@nonblocking
def tree_echo(request: ApplicationRequest) -> list[etree._Element]:
    """The echo of ``--handler tree``: the payload read as lxml elements (the view built and checked)."""
    return list(request.message.payload())


def _run(app_name: str, port: int, pem: tuple[bytes, bytes]) -> None:
    """A server process: the plain echo, or wssc serve's app with the service certificate and key (``wssc-tree``:
    its echo replaced by :func:`tree_echo`)."""
    if app_name == "plain":
        app: object = plain_echo
    else:
        certificate = x509.load_pem_x509_certificate(pem[0])
        key = serialization.load_pem_private_key(pem[1], None)
        wssc_app = build_app(ServiceCredentials(certificate, key), SC_1_3, keylog=None)  # type: ignore[arg-type]
        if app_name == "wssc-tree":
            wssc_app.default = tree_echo
        app = wssc_app
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)  # type: ignore[arg-type]


def serving(app_name: str, pem: tuple[bytes, bytes]) -> tuple[multiprocessing.Process, str]:
    port = free_port()
    process = multiprocessing.Process(target=_run, args=(app_name, port, pem), daemon=True)
    process.start()
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline and process.is_alive(), f"{app_name} server did not start"
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}/echo"


def _http_request(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _read_response(sock: socket.socket, buffer: bytearray) -> int:
    """Read one HTTP/1.1 response with a Content-Length off a keep-alive connection; its status."""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    buffer[:] = rest[length:]
    return int(head.split(b" ", 2)[1])


def load(url: str, requests: list[bytes], seconds: float, clients: int) -> float:
    """Requests per second over ``seconds``: ``clients`` threads on raw keep-alive sockets (a load generator that
    costs little, so that the plain echo is not measuring the client), each cycling through its share."""
    host_port, path = url.removeprefix("http://").split("/", 1)
    host, port = host_port.split(":")
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(n: int) -> None:
        mine = [_http_request("/" + path, body) for body in requests[n::clients]]
        with socket.create_connection((host, int(port))) as sock:
            buffer = bytearray()
            i = 0
            while time.perf_counter() < stop and i < len(mine):
                sock.sendall(mine[i])
                status = _read_response(sock, buffer)
                assert status == 200, status
                i += 1
            done[n] = i

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - start)


def server_cpu_seconds(process: multiprocessing.Process) -> float:
    """User + system CPU time of a server process so far, all its threads (Linux ``/proc/PID/stat``, fields 14-15)."""
    with open(f"/proc/{process.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(
    process: multiprocessing.Process, url: str, requests: list[bytes], seconds: float, clients: int
) -> tuple[float, float]:
    """One round: requests per second, and the server's CPU microseconds per request."""
    cpu, started = server_cpu_seconds(process), time.perf_counter()
    rate = load(url, requests, seconds, clients)
    answered = rate * (time.perf_counter() - started)
    return rate, (server_cpu_seconds(process) - cpu) / answered * 1e6


def prepared_requests(client: WsscClient, count: int) -> list[bytes]:
    """``count`` echo requests protected under a context ``client`` establishes, each a fresh message."""
    client.establish()
    session = client.session
    requests = []
    for _ in range(count):
        requests.append(session.request(etree.fromstring(PAYLOAD), DEMO_ACTION))
        session._pending = None  # prepared, not sent through the session: its answers are not read here
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="per server, over all the rounds")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the two servers")
    parser.add_argument("--messages", type=int, default=6000, help="protected requests prepared beforehand")
    parser.add_argument("--handler", choices=("demo", "tree"), default="demo", help="the echo wssc serves")
    args = parser.parse_args()
    cert, key = self_signed("serve benchmark")
    pem = (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    wssc_server, wssc_url = serving("wssc" if args.handler == "demo" else "wssc-tree", pem)
    plain_server, plain_url = serving("plain", pem)
    plain: list[tuple[float, float]] = []
    wssc: list[tuple[float, float]] = []
    with WsscClient(wssc_url, ClientBootstrap(cert), version=SC_1_3) as client:
        requests = prepared_requests(client, args.messages)
        share, seconds = len(requests) // args.rounds, args.seconds / args.rounds
        for n in range(args.rounds):
            mine = requests[n * share : (n + 1) * share]  # every wssc request is new to its replay cache
            plain.append(measured(plain_server, plain_url, mine, seconds, args.clients))
            wssc.append(measured(wssc_server, wssc_url, mine, seconds, args.clients))
    wssc_server.terminate()
    plain_server.terminate()
    ratio = statistics.median(w[0] / p[0] for w, p in zip(wssc, plain, strict=True))
    plain_rate, wssc_rate = (statistics.median(r[0] for r in side) for side in (plain, wssc))
    plain_cpu, wssc_cpu = (statistics.median(r[1] for r in side) for side in (plain, wssc))
    print(f"plain ASGI echo   {plain_rate:9.0f} requests/s   {plain_cpu:6.0f} us of server CPU a request")
    print(f"wssc serve's app  {wssc_rate:9.0f} requests/s   {wssc_cpu:6.0f} us of server CPU a request")
    by_cpu = plain_cpu / wssc_cpu
    print(f"ratio             {ratio:9.3f}x (median of {args.rounds} rounds)   {by_cpu:.3f}x by server CPU")


if __name__ == "__main__":
    main()
