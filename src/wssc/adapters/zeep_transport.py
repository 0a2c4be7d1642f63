"""zeep integration: a zeep ``Transport`` that sends every operation under a WS-SecureConversation context
(zeep issue #329: calling a WCF ``wsHttpBinding`` service from Python).

zeep builds the envelope and reads the answer; in between, :class:`WsscTransport` hands the Body to a
:class:`~wssc.adapters.http_client.WsscClient` for the endpoint address, which establishes (and renews) the
context, protects the request (application SOAP headers included, signed), verifies and decrypts the
response.  zeep then parses only what wssc verified: the decrypted envelope without its Security header.
WSDL and schema downloads stay plain zeep.

    from zeep import Client
    from wssc.adapters.zeep_transport import WsscTransport

    with WsscTransport(ClientBootstrap(service_certificate), version=SC_2005_02) as transport:
        client = Client("https://svc/Service.svc?wsdl", transport=transport)
        client.service.Echo(text="hello")
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import requests
from lxml import etree
from zeep.transports import Transport

from wssc import namespaces as ns
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import Bootstrap
from wssc.primitives.xml import Element, serialize
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.versions import SC_1_3, SCVersion


class UnsupportedMessage(ValueError):
    """zeep asked for something this transport cannot carry (an operation without an action)."""


def _action(envelope: Element, headers: dict[str, str], soap: SOAPVersion) -> str:
    """The operation's action: zeep's SOAPAction (1.1) or ``action`` media-type parameter (1.2), else wsa:Action."""
    if soap is SOAP11:
        quoted = headers.get("SOAPAction", "")
        if quoted.strip('"'):
            return quoted.strip('"')
    for part in headers.get("Content-Type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "action" and value.strip('"'):
            return value.strip('"')
    header = envelope.find(soap.qname("Header"))
    for namespace in ns.WSA_NAMESPACES:
        found = header.findtext(ns.qn(namespace, "Action")) if header is not None else None
        if found:
            return found.strip()
    raise UnsupportedMessage("the operation has no action (SOAPAction, action parameter or wsa:Action)")


class WsscTransport(Transport):
    """A zeep transport whose operation calls go through one secure conversation per endpoint address.

    ``client_options`` are :class:`~wssc.adapters.http_client.WsscClient` keyword arguments (``policy``,
    ``issuer_url``, ``establish_security_context``, ``http``, ...); the SOAP version follows the WSDL."""

    def __init__(
        self,
        bootstrap: Bootstrap,
        *,
        version: SCVersion = SC_1_3,
        client_options: dict[str, Any] | None = None,
        **transport_options: Any,
    ) -> None:
        super().__init__(**transport_options)  # type: ignore[no-untyped-call]  # zeep leaves it unannotated
        self.bootstrap = bootstrap
        self.version = version
        self.client_options = dict(client_options or {})
        self.clients: dict[tuple[str, str], WsscClient] = {}

    def client_for(self, address: str, soap: SOAPVersion) -> WsscClient:
        """The conversation with ``address`` (created, not yet established, on first use)."""
        key = (address, soap.name)
        client = self.clients.get(key)
        if client is None:
            client = WsscClient(address, self.bootstrap, version=self.version, soap=soap, **self.client_options)
            self.clients[key] = client
        return client

    def post_xml(self, address: str, envelope: Element, headers: dict[str, str]) -> requests.Response:
        soap = SOAP11 if etree.QName(envelope).namespace == SOAP11.namespace else SOAP12
        header = envelope.find(soap.qname("Header"))
        # zeep's own WS-Addressing headers (WsAddressingPlugin) give way to the ones wssc writes and signs.
        application_headers = [
            h for h in (header if header is not None else ()) if isinstance(h.tag, str)
            and etree.QName(h).namespace not in ns.WSA_NAMESPACES
        ]  # fmt: skip
        body = envelope.find(soap.qname("Body"))
        payload = [child for child in body if isinstance(child.tag, str)] if body is not None else []
        action = _action(envelope, headers, soap)
        verified = self.client_for(address, soap).call(payload, action, application_headers)
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = soap.content_type
        response.encoding = "utf-8"
        response.url = address
        response._content = serialize(verified.envelope)  # only what wssc verified and decrypted
        return response

    def close(self) -> None:
        """Cancel every context (where the service allows Cancel) and close the connections."""
        clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> WsscTransport:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
