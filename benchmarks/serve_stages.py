"""Where a ``wssc serve`` request's time goes, measured inside the request loop rather than stage by stage.

``benchmarks/serve.py`` gives the figure issue 11 asks for; this says where it goes.  The demo app (the one
``wssc serve`` and ``serve.py`` run) answers the requests of ``serve.py`` (1 KB echo, one established context,
every request new to the replay cache), driven through its ASGI interface in this process, with no sockets:
the per-request total is the app's own cost, without uvicorn's HTTP.  Each stage is timed where it runs, by
wrapping the function that does it, while the whole request runs as in the server.

Measured so, a stage costs much more than the same stage timed alone in a loop (``bench_unprotect.py``,
``bench_c14n.py``): the compiled core, lxml and the interpreter take turns on one core's caches, and each
leaves them cold for the next.  Alternating the core's unprotect with a bare ``etree.fromstring`` of 1.7 KB
made the unprotect about 10 us slower than alone.  Optimise against these figures, not the isolated ones.

The demo's echo builds no lxml view (``payload_xml()``), so the view stage shows only with ``--handler tree``,
the echo of ``serve.py --handler tree`` that reads the payload as lxml elements.

    PYTHONPATH=src python benchmarks/serve_stages.py [--requests 6000] [--handler demo|tree]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import free_port, prepared_requests, tree_echo

from wssc.adapters.cli.conversation import build_app
from wssc.adapters.http_client import WsscClient
from wssc.conversation import service
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.security import compiled, compiled_protect, compiled_unprotect
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3

#: (label, module, function, what it is): the stages timed, each in the module its caller looks it up in
STAGES: tuple[tuple[str, ModuleType, str, str], ...] = (
    ("verify", compiled_unprotect, "unprotect", "the core's parse and verify, with its glue"),
    ("view", compiled_unprotect, "_view", "lxml's parse of the core's output, checked against the core's"),
    ("envelope", service, "envelope", "the answer's envelope, written by Python"),
    ("protect", compiled_protect, "call", "the core's protect call"),
)


def timed(totals: dict[str, list[float]], label: str, module: ModuleType, name: str) -> None:
    """Replace ``module.name`` by a wrapper that adds each call's time to ``totals[label]``."""
    function: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            entry = totals.setdefault(label, [0.0, 0])
            entry[0] += time.perf_counter() - started
            entry[1] += 1

    setattr(module, name, wrapper)


async def drive(app: Any, requests: list[bytes]) -> None:
    """Each request through the app's ASGI interface, as uvicorn would hand it over; each must be answered 200."""
    for body in requests:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/echo",
            "headers": [
                (b"content-type", b"application/soap+xml; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
            "scheme": "http",
            "client": ("127.0.0.1", 1),
        }
        sent: list[dict[str, Any]] = []

        async def receive(body: bytes = body) -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 200, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=6000, help="protected requests, in three rounds")
    parser.add_argument("--handler", choices=("demo", "tree"), default="demo", help="the echo served")
    args = parser.parse_args()
    cert, key = self_signed("serve stages")
    app = build_app(ServiceCredentials(cert, key), SC_1_3, keylog=None)
    if args.handler == "tree":
        app.default = tree_echo
    # the context is established over HTTP, as a client would; the requests then go to the app directly
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    client = WsscClient(f"http://127.0.0.1:{server.config.port}/echo", ClientBootstrap(cert), version=SC_1_3)
    requests = prepared_requests(client, args.requests)
    server.should_exit = True
    totals: dict[str, list[float]] = {}
    for label, module, name, _ in STAGES:
        timed(totals, label, module, name)
    print(f"core: {compiled.active()}; {len(requests[0])}-byte requests; microseconds a request")
    third = len(requests) // 3
    for n in range(3):
        totals.clear()
        started = time.perf_counter()
        asyncio.run(drive(app, requests[n * third : (n + 1) * third]))
        total = (time.perf_counter() - started) / third * 1e6
        stages = {label: spent / calls * 1e6 for label, (spent, calls) in totals.items()}
        rest = total - sum(stages.values())
        print(
            f"round {n + 1}: request {total:6.1f} = "
            + " + ".join(f"{label} {us:.1f}" for label, us in stages.items())
            + f" + the rest {rest:.1f}"
        )
    for label, _, _, what in STAGES:
        print(f"  {label}: {what}")


if __name__ == "__main__":
    main()
