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
from wssc.conversation.policy_client import ClientConfiguration, ClientCredentials, configure_client
from wssc.conversation.ws_policy import PolicyError
from wssc.conversation.wsdl_policy import parse_wsdl
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

    With a ``bootstrap`` every endpoint is called that way, in ``version``.  Without one, the transport reads
    the WS-SecurityPolicy of the WSDLs zeep loads through it and configures each port's conversation from
    its policy (:func:`~wssc.conversation.policy_client.configure_client`: bootstrap binding, WS-SC version,
    suite, entropy, service certificate as published), with the caller's ``credentials``.
    ``client_options`` are further :class:`~wssc.adapters.http_client.WsscClient` keyword arguments
    (``policy``, ``issuer_url``, ``http``, ...); the SOAP version follows the WSDL."""

    def __init__(
        self,
        bootstrap: Bootstrap | None = None,
        *,
        version: SCVersion = SC_1_3,
        credentials: ClientCredentials | None = None,
        client_options: dict[str, Any] | None = None,
        **transport_options: Any,
    ) -> None:
        super().__init__(**transport_options)  # type: ignore[no-untyped-call]  # zeep leaves it unannotated
        self.bootstrap = bootstrap
        self.version = version
        self.credentials = credentials or ClientCredentials()
        self.client_options = dict(client_options or {})
        self.clients: dict[tuple[str, str], WsscClient] = {}
        #: port address -> what its WSDL's policy calls for (or why it cannot be followed)
        self.endpoints: dict[str, ClientConfiguration | PolicyError] = {}

    def load(self, url: str) -> bytes:
        """zeep's document loading; WSDLs also have their ports' policies read (when no bootstrap is set)."""
        content: bytes = super().load(url)  # type: ignore[no-untyped-call]
        if self.bootstrap is None and b"definitions" in content[:4096]:
            self._read_policies(content)
        return content

    def _read_policies(self, content: bytes) -> None:
        try:
            bindings = parse_wsdl(content)
        except PolicyError:
            return  # not a WSDL (or not one wssc can read): its ports stay unknown, calls to them are refused
        for binding in bindings:
            for port in binding.ports:
                if port.address is None:
                    continue
                try:
                    if not port.policies:
                        raise PolicyError(f"port {port.name} publishes no security policy")
                    self.endpoints[port.address] = configure_client(
                        port.policies[0],
                        soap=port.soap,
                        published_certificate=port.certificate,
                        credentials=self.credentials,
                    )
                except PolicyError as error:
                    self.endpoints[port.address] = error

    def client_for(self, address: str, soap: SOAPVersion) -> WsscClient:
        """The conversation with ``address`` (created, not yet established, on first use)."""
        key = (address, soap.name)
        client = self.clients.get(key)
        if client is not None:
            return client
        if self.bootstrap is not None:
            client = WsscClient(address, self.bootstrap, version=self.version, soap=soap, **self.client_options)
        else:
            config = self.endpoints.get(address)
            if config is None:
                raise PolicyError(f"no bootstrap given and no WSDL policy read for {address}")
            if isinstance(config, PolicyError):
                raise config
            options = {
                "version": config.version,
                "policy": config.policy,
                "entropy_mode": config.entropy_mode,
                "establish_security_context": config.establish_security_context,
                "must_not_send_cancel": config.must_not_send_cancel,
                "over_tls": config.over_tls,
                **self.client_options,
            }
            client = WsscClient(address, config.bootstrap, soap=soap, **options)
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
