"""``wssc serve --workers N``: N processes on one port serve one client's context between them, its contexts
in Redis (``--redis``) or in its SCTs (``--stateless``).  Each answer names its worker (``X-Wssc-Worker``); the
client opens a connection per request so that the kernel spreads them, and calls until both workers answered."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_pem_x509_certificate
from lxml import etree

from http_support import ServeProcess
from negotiation_support import wssc
from pki import pem
from redis_support import redis_server
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import ClientBootstrap
from wssc.errors import BadContextToken
from wssc.tokens.x509 import self_signed

SEAL = {"WSSC_SEAL_KEY": base64.b64encode(os.urandom(32)).decode()}
ACTION = "urn:wssc:demo:echo"
#: calls before giving up on seeing the second worker: requests land on either with even odds overall, but in
#: runs (the worker the scheduler wakes first wins the accept); runs of 60 were seen on a loaded machine
MAX_CALLS = 400


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def _echo(client: WsscClient, text: str) -> str:
    body = etree.fromstring(f'<echo xmlns="urn:wssc:demo">{text}</echo>'.encode())
    return "".join(client.call(body, ACTION).body.itertext())


def _serve_one_context_on_both(node: ServeProcess, cert_path: Path, *, cancel: bool) -> None:
    answered: list[str] = []

    def worker(response: httpx.Response) -> None:
        answered.append(response.headers["X-Wssc-Worker"])

    http = httpx.Client(
        timeout=30, limits=httpx.Limits(max_keepalive_connections=0), event_hooks={"response": [worker]}
    )
    cert = load_pem_x509_certificate(cert_path.read_bytes())
    with http, WsscClient(node.url, ClientBootstrap(cert), http=http) as client:
        context = client.establish()
        for n in range(MAX_CALLS):
            assert _echo(client, f"call {n}") == f"call {n}"
            if len(set(answered)) == 2 and n >= 3:
                break
        assert len(set(answered)) == 2, f"one worker answered all {len(answered)} requests"
        renewed = client.renew()
        assert renewed.identifier == context.identifier
        seen = len(answered)
        for n in range(MAX_CALLS):
            assert _echo(client, f"renewed {n}") == f"renewed {n}"
            if len(set(answered[seen:])) == 2:
                break
        assert len(set(answered[seen:])) == 2, "the renewed context was not served by both workers"
        if cancel:
            stale = client.session.context
            client.cancel()
            client.session.context = stale
            for _ in range(6):  # wherever they land, every worker knows it is gone (no retry: raw requests)
                request = client.session.request(etree.fromstring(b'<echo xmlns="urn:wssc:demo"/>'), ACTION)
                content_type = client.session.settings.soap.content_type
                answer = http.post(node.url, content=request, headers={"Content-Type": content_type})
                with pytest.raises(BadContextToken):
                    client.session.receive(answer.content)
            client.session.context = None
    assert all(pid.isdigit() for pid in answered) and str(node.proc.pid) not in answered  # workers, not the parent


def test_two_workers_stateless_serve_one_context(tmp_path: Path) -> None:
    """With the service's own certificate and an encrypted key: its password reaches every worker."""
    cert, key = self_signed("two workers")
    encryption = serialization.BestAvailableEncryption(b"worker-pass")
    (tmp_path / "cert.pem").write_bytes(pem(cert))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    files = ("--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem"), "--key-password", "worker-pass")
    node = ServeProcess(tmp_path, "--workers", "2", "--stateless", *files, env=SEAL)
    try:
        _serve_one_context_on_both(node, tmp_path / "cert.pem", cancel=False)
        # wssc call leaves a stateless context to expire rather than fail on a Cancel the service cannot honour
        done = wssc("call", node.url, "--server-cert", str(tmp_path / "cert.pem"))
        assert done.returncode == 0 and "stateless" in done.stderr, done.stderr
    finally:
        node.stop()
    assert node.proc.returncode == 0
    assert (
        node.proc.stderr is not None and b"each worker detects replayed messages on its own" in node.proc.stderr.read()
    )


def test_two_workers_share_contexts_through_redis(tmp_path: Path, redis_url: str) -> None:
    node = ServeProcess(tmp_path, "--workers", "2", "--redis", redis_url, env=SEAL)
    try:
        _serve_one_context_on_both(node, node.cert_path, cancel=True)
    finally:
        node.stop()


def test_one_process_adds_no_worker_header(serve_process: ServeProcess) -> None:
    cert = load_pem_x509_certificate(serve_process.cert_path.read_bytes())
    headers: list[httpx.Headers] = []
    http = httpx.Client(timeout=30, event_hooks={"response": [lambda response: headers.append(response.headers)]})
    with http, WsscClient(serve_process.url, ClientBootstrap(cert), http=http) as client:
        assert _echo(client, "alone") == "alone"
    assert headers and all("X-Wssc-Worker" not in h for h in headers)
