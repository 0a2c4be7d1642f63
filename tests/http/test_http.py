"""Contexts over real HTTP on loopback: the ASGI app under uvicorn, the sync and async httpx clients, WSGI,
and the command line (`wssc serve`, `wssc call`, `wssc cancel`)."""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from lxml import etree

from http_support import LiveServer
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.http_client import AsyncWsscClient, WsscClient
from wssc.adapters.keylog import KeyLog
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.service import SecureConversationService
from wssc.errors import BadContextToken
from wssc.security.faults import read_fault
from wssc.security.soap import SOAP11, SOAP12
from wssc.versions import SC_1_3, SC_2005_02

PAYLOAD = b'<m:echo xmlns:m="urn:example:m">over http</m:echo>'


def _text(message) -> str:  # type: ignore[no-untyped-def]
    return "".join(message.body.itertext())


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
@pytest.mark.parametrize("soap", [SOAP11, SOAP12], ids=["soap11", "soap12"])
def test_sync_client_whole_life(live_app, service_keypair, version, soap, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert, _ = service_keypair
    keylog = KeyLog(str(tmp_path / "keys.log"))
    with live_app(version=version) as server:
        client = WsscClient(server.url, ClientBootstrap(cert), version=version, soap=soap, keylog=keylog)
        context = client.establish()
        assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"
        renewed = client.renew()
        assert renewed.identifier == context.identifier and renewed.instance
        assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"
        assert client.validate() is True
        client.close()  # cancels
        assert client.session.context is None
        lines = (tmp_path / "keys.log").read_text().splitlines()
        assert len(lines) == 2 and all(line.startswith(f"CONTEXT {context.identifier} ") for line in lines)
        assert lines[0].split()[3] == base64.b64encode(context.key).decode()


def test_async_client(live_app, service_keypair) -> None:  # type: ignore[no-untyped-def]
    cert, _ = service_keypair

    async def run(url: str) -> None:
        async with AsyncWsscClient(url, ClientBootstrap(cert)) as client:
            results = [_text(await client.call(PAYLOAD, "urn:example:echo")) for _ in range(5)]
            assert results == ["over http"] * 5
            await client.renew()
            assert await client.validate()

    with live_app() as server:
        asyncio.run(run(server.url))


def test_client_re_establishes_after_bad_context_token(live_app, service_keypair) -> None:  # type: ignore[no-untyped-def]
    cert, _ = service_keypair
    with live_app() as server:
        client = WsscClient(server.url, ClientBootstrap(cert))
        first = client.establish()
        server.server.config.app.service.store.remove(first.identifier)  # the service forgot it (restart)
        assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"
        assert client.session.context is not None and client.session.context.identifier != first.identifier
        client.close()


def test_garbage_and_wrong_method_get_faults_not_tracebacks(live_app) -> None:  # type: ignore[no-untyped-def]
    with live_app() as server:
        for body in (b"garbage", b"<a/>", b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>'):
            response = httpx.post(server.url, content=body)
            assert response.status_code == 500
            fault = read_fault(etree.fromstring(response.content))
            assert fault is not None and fault.error is not None
            assert b"Traceback" not in response.content
        assert httpx.get(server.url).status_code == 405
        assert httpx.post(server.url.replace("/echo", "/other"), content=b"x").status_code == 404


def test_wsgi_app(service_keypair) -> None:  # type: ignore[no-untyped-def]
    cert, key = service_keypair
    app = WsscApp(SecureConversationService(ServiceCredentials(cert, key)), default=echo_handler).wsgi()

    def transport(request: httpx.Request) -> httpx.Response:
        environ = {
            "REQUEST_METHOD": request.method,
            "CONTENT_LENGTH": str(len(request.content)),
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "wsgi.input": io.BytesIO(request.content),
        }
        status: list[str] = []
        body = b"".join(app(environ, lambda s, h: status.append(s)))
        return httpx.Response(int(status[0].split()[0]), content=body)

    http = httpx.Client(transport=httpx.MockTransport(transport))
    client = WsscClient("http://wsgi.test/echo", ClientBootstrap(cert), http=http)
    assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"
    client.close()


def _wssc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wssc", *args], check=False, capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_cli_serve_call_cancel(serve_process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert = str(serve_process.cert_path)
    done = _wssc("call", serve_process.url, "--server-cert", cert, "--count", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("hello from wssc") == 3
    kept = _wssc("call", serve_process.url, "--server-cert", cert, "--no-cancel", "--sc-version", "1.3")
    assert kept.returncode == 0, kept.stderr
    identifier = kept.stdout.strip().splitlines()[-1]
    keys = {ident: key for ident, _instance, key in serve_process.logged_keys()}
    assert identifier in keys
    cancelled = _wssc(
        "cancel", serve_process.url, "--context-id", identifier, "--key-b64", keys[identifier], "--server-cert", cert
    )
    assert cancelled.returncode == 0, cancelled.stderr
    again = _wssc(
        "cancel", serve_process.url, "--context-id", identifier, "--key-b64", keys[identifier], "--server-cert", cert
    )
    assert again.returncode != 0 and "wsc:BadContextToken" in again.stderr


def test_cancelled_context_is_rejected_over_http(live_app, service_keypair) -> None:  # type: ignore[no-untyped-def]
    cert, _ = service_keypair
    with live_app() as server:
        client = WsscClient(server.url, ClientBootstrap(cert))
        client.establish()
        stale = client.session.context
        client.cancel()
        client.session.context = stale
        request = client.session.request(PAYLOAD, "urn:example:echo")
        response = httpx.post(server.url, content=request, headers={"Content-Type": SOAP12.content_type})
        assert response.status_code == 500
        with pytest.raises(BadContextToken):
            client.session.receive(response.content)


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_context_from_a_separate_sts_sharing_the_store(version) -> None:  # type: ignore[no-untyped-def]
    from http_support import LiveServer
    from wssc.conversation.store import InMemoryContextStore
    from wssc.tokens.x509 import self_signed

    sts_cert, sts_key = self_signed("separate sts")
    svc_cert, svc_key = self_signed("application service")
    store = InMemoryContextStore()
    sts = WsscApp(SecureConversationService(ServiceCredentials(sts_cert, sts_key), store), path="/echo")
    service = WsscApp(
        SecureConversationService(ServiceCredentials(svc_cert, svc_key), store), default=echo_handler, path="/echo"
    )
    with LiveServer(sts) as sts_server, LiveServer(service) as app_server:
        client = WsscClient(app_server.url, ClientBootstrap(sts_cert), version=version, issuer_url=sts_server.url)
        context = client.establish()
        assert client.session.last_action == version.trust_uri("RST/Issue")
        assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"
        assert client.renew().identifier == context.identifier
        assert _text(client.call(PAYLOAD, "urn:example:echo")) == "over http"
        client.close()
        assert store.get(context.identifier, context.created) is None


def test_cli_mutual_certificate(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from http_support import ServeProcess
    from wssc.tokens.x509 import self_signed

    cert, key = self_signed("cli client")
    (tmp_path / "client-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "client-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ServeProcess(tmp_path, "--bootstrap", "mutual-certificate")
    try:
        done = _wssc(
            "call",
            server.url,
            "--server-cert",
            str(server.cert_path),
            "--client-cert",
            str(tmp_path / "client-cert.pem"),
            "--client-key",
            str(tmp_path / "client-key.pem"),
            "--count",
            "2",
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("hello from wssc") == 2
    finally:
        server.stop()


def test_cli_username_for_certificate(tmp_path: Path) -> None:
    from http_support import ServeProcess

    (tmp_path / "users").write_text("# demo users\nalice:wonderland\n")
    server = ServeProcess(tmp_path, "--bootstrap", "username-for-certificate", "--users", str(tmp_path / "users"))
    try:
        cert = str(server.cert_path)
        good = _wssc("call", server.url, "--server-cert", cert, "--username", "alice", "--password", "wonderland")
        assert good.returncode == 0, good.stderr
        bad = _wssc("call", server.url, "--server-cert", cert, "--username", "alice", "--password", "nope")
        assert bad.returncode != 0 and "wsse:FailedAuthentication" in bad.stderr
    finally:
        server.stop()


def test_demo_service_accepts_unsigned_addressing_and_ignores_it_for_routing(service_keypair) -> None:  # type: ignore[no-untyped-def]
    from wssc.adapters.cli.conversation import build_app
    from wssc.security.policy import ProtectionPolicy

    cert, key = service_keypair
    app = build_app(ServiceCredentials(cert, key), SC_1_3)
    seen: list[str | None] = []

    def spy(request):  # type: ignore[no-untyped-def]
        seen.append(request.action)
        return echo_handler(request)

    app.default = spy
    policy = ProtectionPolicy(sign_addressing_headers=False)  # the context's messages; the bootstrap signs them
    with LiveServer(app) as server:
        client = WsscClient(server.url, ClientBootstrap(cert), policy=policy)
        reply = client.call(PAYLOAD, "urn:example:unsigned")
        assert _text(reply) == "over http"
        client.close()
    assert seen == [None]  # the unsigned wsa:Action was not trusted for routing


def test_cli_serve_validates_client_certificates_against_trust_anchors(tmp_path: Path) -> None:
    """`wssc serve --bootstrap mutual-certificate --trust-anchor CA`: a client certificate the CA issued
    gets a context; a self-made one gets wsse:FailedAuthentication."""
    from http_support import ServeProcess
    from pki import CLIENT, ROOT, STRANGER, key_pem, pem

    for name, data in (
        ("ca.pem", pem(ROOT[0])),
        ("client.pem", pem(CLIENT[0])),
        ("client-key.pem", key_pem(CLIENT[1])),
        ("stranger.pem", pem(STRANGER[0])),
        ("stranger-key.pem", key_pem(STRANGER[1])),
    ):
        (tmp_path / name).write_bytes(data)
    server = ServeProcess(tmp_path, "--bootstrap", "mutual-certificate", "--trust-anchor", str(tmp_path / "ca.pem"))
    try:
        cert = str(server.cert_path)
        good = _wssc(
            "call", server.url, "--server-cert", cert,
            "--client-cert", str(tmp_path / "client.pem"), "--client-key", str(tmp_path / "client-key.pem"),
        )  # fmt: skip
        assert good.returncode == 0, good.stderr
        assert "hello from wssc" in good.stdout
        bad = _wssc(
            "call", server.url, "--server-cert", cert,
            "--client-cert", str(tmp_path / "stranger.pem"), "--client-key", str(tmp_path / "stranger-key.pem"),
        )  # fmt: skip
        assert bad.returncode != 0
        assert "wsse:FailedAuthentication" in bad.stderr
    finally:
        server.stop()
