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
from typing import Any, Generic, TypeVar

import requests
from lxml import etree
from zeep.transports import AsyncTransport, Transport

from wssc import namespaces as ns
from wssc.adapters.http_client import AsyncWsscClient, WsscClient
from wssc.conversation.bootstrap import Bootstrap
from wssc.conversation.policy_client import ClientConfiguration, ClientCredentials, configure_client
from wssc.policy.ws_policy import PolicyError
from wssc.policy.wsdl import PortInfo, parse_wsdl
from wssc.primitives.xml import Element, serialize
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.versions import SC_1_3, SCVersion

C = TypeVar("C", WsscClient, AsyncWsscClient)


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


class _Endpoints(Generic[C]):
    """What both transports share: each endpoint's bootstrap and client settings, given, or read from the
    WS-SecurityPolicy of the WSDLs zeep loads (:func:`~wssc.conversation.policy_client.configure_client`)."""

    bootstrap: Bootstrap | None
    version: SCVersion
    credentials: ClientCredentials
    client_options: dict[str, Any]
    #: port address -> what its WSDL's policy calls for (or why it cannot be followed)
    endpoints: dict[str, ClientConfiguration | PolicyError]
    #: (address, SOAP version) -> the conversation with that endpoint
    clients: dict[tuple[str, str], C]

    def __init__(
        self,
        bootstrap: Bootstrap | None = None,
        *,
        version: SCVersion = SC_1_3,
        credentials: ClientCredentials | None = None,
        client_options: dict[str, Any] | None = None,
        **transport_options: Any,
    ) -> None:
        super().__init__(**transport_options)  # zeep's Transport or AsyncTransport
        self.bootstrap = bootstrap
        self.version = version
        self.credentials = credentials or ClientCredentials()
        self.client_options = dict(client_options or {})
        self.endpoints = {}
        self.clients = {}

    def load(self, url: str) -> bytes:
        """zeep's document loading; WSDLs also have their ports' policies read (when no bootstrap is set)."""
        content: bytes = super().load(url)  # type: ignore[misc]  # zeep's, by the transport's MRO
        return self._loaded(content)

    def _loaded(self, content: bytes) -> bytes:
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
                self.endpoints[port.address] = self._first_usable(port)

    def _first_usable(self, port: PortInfo) -> ClientConfiguration | PolicyError:
        """The first policy alternative of ``port`` wssc can follow (WS-Policy 1.5 section 3.2: the requester
        picks one), else why the first one cannot be followed."""
        if not port.policies:
            return PolicyError(f"port {port.name} publishes no security policy")
        first: PolicyError | None = None
        for alternative in port.policies:
            try:
                return configure_client(
                    alternative,
                    soap=port.soap,
                    published_certificate=port.certificate,
                    credentials=self.credentials,
                    target=port.target_name(),
                )
            except PolicyError as error:
                first = first or error
        assert first is not None
        return first

    def _arguments(self, address: str, soap: SOAPVersion) -> tuple[Bootstrap, dict[str, Any]]:
        """The bootstrap and client keyword arguments for a conversation with ``address``."""
        if self.bootstrap is not None:
            return self.bootstrap, {"version": self.version, "soap": soap, **self.client_options}
        config = self.endpoints.get(address)
        if config is None:
            raise PolicyError(f"no bootstrap given and no WSDL policy read for {address}")
        if isinstance(config, PolicyError):
            raise config
        options = {
            "version": config.version,
            "soap": soap,
            "policy": config.policy,
            "entropy_mode": config.entropy_mode,
            "establish_security_context": config.establish_security_context,
            "must_not_send_cancel": config.must_not_send_cancel,
            "over_tls": config.over_tls,
            **self.client_options,
        }
        return config.bootstrap, options


def _request(envelope: Element, headers: dict[str, str]) -> tuple[SOAPVersion, list[Element], str, list[Element]]:
    """What zeep built: SOAP version, Body payload, action, application headers (zeep's own WS-Addressing
    headers, from its WsAddressingPlugin, give way to the ones wssc writes and signs)."""
    soap = SOAP11 if etree.QName(envelope).namespace == SOAP11.namespace else SOAP12
    header = envelope.find(soap.qname("Header"))
    application_headers = [
        h for h in (header if header is not None else ()) if isinstance(h.tag, str)
        and etree.QName(h).namespace not in ns.WSA_NAMESPACES
    ]  # fmt: skip
    body = envelope.find(soap.qname("Body"))
    payload = [child for child in body if isinstance(child.tag, str)] if body is not None else []
    return soap, payload, _action(envelope, headers, soap), application_headers


def _response(verified: VerifiedMessage, soap: SOAPVersion, address: str) -> requests.Response:
    """The answer zeep parses: only what wssc verified and decrypted."""
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = soap.content_type
    response.encoding = "utf-8"
    response.url = address
    response._content = serialize(verified.envelope)
    return response


class WsscTransport(_Endpoints[WsscClient], Transport):
    """A zeep transport whose operation calls go through one secure conversation per endpoint address.

    With a ``bootstrap`` every endpoint is called that way, in ``version``.  Without one, the transport reads
    the WS-SecurityPolicy of the WSDLs zeep loads through it and configures each port's conversation from
    its policy (bootstrap binding, WS-SC version, suite, entropy, service certificate as published), with
    the caller's ``credentials``.  ``client_options`` are further
    :class:`~wssc.adapters.http_client.WsscClient` keyword arguments (``policy``, ``issuer_url``, ``http``,
    ...); the SOAP version follows the WSDL."""

    def client_for(self, address: str, soap: SOAPVersion) -> WsscClient:
        """The conversation with ``address`` (created, not yet established, on first use)."""
        key = (address, soap.name)
        if key not in self.clients:
            bootstrap, options = self._arguments(address, soap)
            self.clients[key] = WsscClient(address, bootstrap, **options)
        return self.clients[key]

    def post_xml(self, address: str, envelope: Element, headers: dict[str, str]) -> requests.Response:
        soap, payload, action, application_headers = _request(envelope, headers)
        verified = self.client_for(address, soap).call(payload, action, application_headers)
        return _response(verified, soap, address)

    def close(self) -> None:
        """Cancel every context (where the service allows Cancel) and close the connections."""
        clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> WsscTransport:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class AsyncWsscTransport(_Endpoints[AsyncWsscClient], AsyncTransport):
    """The asyncio twin of :class:`WsscTransport`, for ``zeep.AsyncClient`` (WSDLs still load synchronously,
    as zeep's own AsyncTransport does); ``client_options`` go to
    :class:`~wssc.adapters.http_client.AsyncWsscClient` (``http`` an ``httpx.AsyncClient``)."""

    def client_for(self, address: str, soap: SOAPVersion) -> AsyncWsscClient:
        key = (address, soap.name)
        if key not in self.clients:
            bootstrap, options = self._arguments(address, soap)
            self.clients[key] = AsyncWsscClient(address, bootstrap, **options)
        return self.clients[key]

    async def post_xml(self, address: str, envelope: Element, headers: dict[str, str]) -> requests.Response:
        soap, payload, action, application_headers = _request(envelope, headers)
        verified = await self.client_for(address, soap).call(payload, action, application_headers)
        return _response(verified, soap, address)

    async def aclose(self) -> None:
        """Cancel every context (where the service allows Cancel), close the connections and zeep's."""
        clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            await client.aclose()
        await super().aclose()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> AsyncWsscTransport:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
