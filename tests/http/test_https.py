"""TransportWithMessageCredential over real HTTPS on loopback (WCF's and .NET Core's secure conversation over
TLS): a UsernameToken in clear inside TLS establishes the context, the context key signs the Timestamp."""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from http_support import free_port
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials, TransportBootstrap
from wssc.conversation.service import SecureConversationService
from wssc.errors import FailedAuthentication
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3, SC_2005_02

PAYLOAD = b'<m:echo xmlns:m="urn:example:m">over tls</m:echo>'


def _tls_certificate(directory: Path) -> tuple[Path, Path, x509.Certificate, rsa.RSAPrivateKey]:
    cert, key = self_signed("127.0.0.1", days=1, ip_address="127.0.0.1")
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path, cert, key


@pytest.fixture
def https_service(tmp_path: Path):  # type: ignore[no-untyped-def]
    cert_path, key_path, cert, key = _tls_certificate(tmp_path)
    service = SecureConversationService(ServiceCredentials(cert, key, {"alice": "wonderland"}))
    app = WsscApp(service, default=echo_handler, path="/echo")
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",  # type: ignore[arg-type]
        ssl_certfile=str(cert_path),
        ssl_keyfile=str(key_path),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    context = ssl.create_default_context(cafile=str(cert_path))
    try:
        yield f"https://127.0.0.1:{port}/echo", context, cert, service
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(5)


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_transport_with_message_credential(https_service, version) -> None:  # type: ignore[no-untyped-def]
    url, tls, _cert, service = https_service
    bootstrap = TransportBootstrap(username="alice", password="wonderland")
    with WsscClient(url, bootstrap, version=version, http=httpx.Client(verify=tls)) as client:
        context = client.establish()
        stored = service.store.get(context.identifier, context.created)
        assert stored is not None and ("name", "alice") in [(c.type, c.value) for c in stored.claims]
        reply = client.call(PAYLOAD, "urn:example:echo")
        assert "".join(reply.body.itertext()) == "over tls"
        assert reply.signed_names == ["Timestamp"] and reply.encrypted_names == []
        client.renew()
        assert "".join(client.call(PAYLOAD, "urn:example:echo").body.itertext()) == "over tls"
        amender = self_signed("tls amender")
        client.amend(*amender)
        stored = service.store.get(context.identifier, context.created)
        assert stored is not None and "CN=tls amender" in [c.value for c in stored.claims]
        assert client.validate() is True
    assert service.store.get(context.identifier, context.created) is None  # cancelled on close


def test_wrong_password_over_tls(https_service) -> None:  # type: ignore[no-untyped-def]
    url, tls, _cert, _service = https_service
    client = WsscClient(url, TransportBootstrap(username="alice", password="nope"), http=httpx.Client(verify=tls))
    with pytest.raises(FailedAuthentication):
        client.establish()


def test_message_security_still_works_over_tls(https_service) -> None:  # type: ignore[no-untyped-def]
    url, tls, cert, _service = https_service
    bootstrap = ClientBootstrap(cert, username="alice", password="wonderland")
    with WsscClient(url, bootstrap, http=httpx.Client(verify=tls)) as client:
        assert "".join(client.call(PAYLOAD, "urn:example:echo").body.itertext()) == "over tls"
