"""What a farm costs per application call, measured in one run: the same call (client protect, service
receive + respond, client verify; 1 KB body, Basic256, derived keys, encrypted signature) against a service
keeping its contexts in memory, in Redis (sealed records, farm-wide replay cache, a redis-server on loopback
started here), and stateless (the context in a sealed cookie inside the SCT).

    python benchmarks/farm.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable

import redis

from wssc.adapters.redis_store import farm_store
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.service import ApplicationRequest, SecureConversationService, TokenReply
from wssc.conversation.settings import ServiceSettings
from wssc.tokens.x509 import self_signed

CERT, KEY = self_signed("farm bench")
BODY = b'<e:echo xmlns:e="urn:e">' + b"<e:item>widget</e:item>" * 45 + b"</e:echo>"


def _per_call(service: SecureConversationService, calls: int) -> float:
    session = ClientSession(ClientBootstrap(CERT), "http://bench/echo")
    event = service.receive(session.establish())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)

    def one() -> None:
        request = service.receive(session.request(BODY, "urn:e:echo"))
        assert isinstance(request, ApplicationRequest), request
        assert isinstance(session.receive(service.respond(request, request.message.payload())), Response)

    for _ in range(min(200, calls)):
        one()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            one()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def _redis_url(workdir: str) -> tuple[str, subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is needed (Debian package redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return url, proc
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    calls = parser.parse_args().calls
    seal = ContextSeal(os.urandom(32))
    with tempfile.TemporaryDirectory() as workdir:
        url, proc = _redis_url(workdir)
        try:
            store, replays = farm_store(url, seal)
            makers: dict[str, Callable[[], SecureConversationService]] = {
                "in memory": lambda: SecureConversationService(ServiceCredentials(CERT, KEY)),
                "redis": lambda: SecureConversationService(ServiceCredentials(CERT, KEY), store, replay_cache=replays),
                "stateless": lambda: SecureConversationService(
                    ServiceCredentials(CERT, KEY), settings=ServiceSettings(stateless=seal)
                ),
            }
            results = {name: _per_call(make(), calls) for name, make in makers.items()}
        finally:
            proc.terminate()
            proc.wait(10)
    base = results["in memory"]
    for name, us in results.items():
        print(f"{name:>10}: {us:7.1f} us per call (x{us / base:.2f} of in memory)")


if __name__ == "__main__":
    main()
