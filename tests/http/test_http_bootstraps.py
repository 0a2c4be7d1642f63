"""Every operation under every bootstrap credential, both protocol versions, over real HTTP on loopback,
plus the issue's scenario (establish, 1,000 calls, renew, 1,000 calls, amend, cancel, a rejected call)."""

from __future__ import annotations

import httpx
import pytest

from http_support import LiveServer
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import ClientBootstrap, MutualCertificateBootstrap, ServiceCredentials
from wssc.conversation.service import SecureConversationService
from wssc.errors import BadContextToken
from wssc.security.soap import SOAP11, SOAP12
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3, SC_2005_02

SERVICE = self_signed("bootstrap matrix service")
CLIENT = self_signed("bootstrap matrix client")
AMENDER = self_signed("amending credential")
PAYLOAD = b'<m:echo xmlns:m="urn:example:m">matrix</m:echo>'
BOOTSTRAPS = {
    "anonymous-for-certificate": ClientBootstrap(SERVICE[0]),
    "username-for-certificate": ClientBootstrap(SERVICE[0], username="alice", password="wonderland"),
    "mutual-certificate": MutualCertificateBootstrap(SERVICE[0], *CLIENT),
}


def _server(bootstrap: str) -> tuple[LiveServer, SecureConversationService]:
    users = {"alice": "wonderland"} if bootstrap == "username-for-certificate" else None
    service = SecureConversationService(ServiceCredentials(*SERVICE, users=users))
    return LiveServer(WsscApp(service, default=echo_handler, path="/echo")), service


def _echo(client: WsscClient) -> str:
    return "".join(client.call(PAYLOAD, "urn:example:echo").body.itertext())


@pytest.mark.parametrize("bootstrap", sorted(BOOTSTRAPS))
@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_every_operation(bootstrap: str, version) -> None:  # type: ignore[no-untyped-def]
    server, service = _server(bootstrap)
    with server:
        soap = SOAP11 if version is SC_2005_02 else SOAP12
        with WsscClient(server.url, BOOTSTRAPS[bootstrap], version=version, soap=soap) as client:
            context = client.establish()
            assert _echo(client) == "matrix"
            renewed = client.renew()
            assert renewed.identifier == context.identifier and renewed.instance != context.instance
            assert _echo(client) == "matrix"
            client.amend(*AMENDER)
            stored = service.store.get(context.identifier, renewed.created)
            assert stored is not None and ("x509", "CN=amending credential") in [
                (c.type, c.value) for c in stored.claims
            ]
            assert client.validate() is True
            stale = client.session.context
        assert service.store.get(context.identifier, renewed.created) is None  # cancelled on close
        client.session.context = stale
        request = client.session.request(PAYLOAD, "urn:example:echo")
        response = httpx.post(server.url, content=request, headers={"Content-Type": soap.content_type})
        with pytest.raises(BadContextToken):
            client.session.receive(response.content)


def test_scenario_over_http() -> None:
    server, _service = _server("anonymous-for-certificate")
    with server, httpx.Client() as http:
        client = WsscClient(server.url, BOOTSTRAPS["anonymous-for-certificate"], http=http)
        client.establish()
        assert all(_echo(client) == "matrix" for _ in range(1000))
        client.renew()
        assert all(_echo(client) == "matrix" for _ in range(1000))
        client.amend(*AMENDER)
        stale = client.session.context
        client.cancel()
        client.session.context = stale
        response = http.post(
            server.url,
            content=client.session.request(PAYLOAD, "urn:example:echo"),
            headers={"Content-Type": SOAP12.content_type},
        )
        assert response.status_code == 500
        with pytest.raises(BadContextToken):
            client.session.receive(response.content)


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_propagated_context_over_http(version) -> None:  # type: ignore[no-untyped-def]
    server, service = _server("anonymous-for-certificate")
    with server, WsscClient(server.url, BOOTSTRAPS["anonymous-for-certificate"], version=version) as client:
        context = client.propagate(*CLIENT)
        stored = service.store.get(context.identifier, context.created)
        assert stored is not None and stored.key == context.key
        assert _echo(client) == "matrix"
        client.renew()
        assert _echo(client) == "matrix"
