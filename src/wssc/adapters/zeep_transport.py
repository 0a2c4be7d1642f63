"""zeep integration: a zeep ``Transport`` that sends every operation under a WS-SecureConversation context
(zeep issue #329: calling a WCF ``wsHttpBinding`` service from Python).

zeep builds the envelope and reads the answer; in between, :class:`WsscTransport` hands the Body to a
:class:`~wssc.adapters.http_client.WsscClient` for the endpoint address, which establishes (and renews) the
context, protects the request (application SOAP headers included, signed), verifies and decrypts the
response.  zeep then parses only what wssc verified: the decrypted envelope without its Security header.
WSDL and schema downloads stay plain zeep.

    from zeep import Client
    from zeep.wsse.username import UsernameToken
    from wssc.adapters.zeep_transport import WsscTransport

    with WsscTransport() as transport:  # configured from the WSDL's security policy
        client = Client("https://svc/Service.svc?wsdl", wsse=UsernameToken("alice", "secret"), transport=transport)
        client.service.Echo(text="hello")

As zeep users expect:

- ``wsse=UsernameToken(user, password)`` gives the user name and password (:mod:`wssc.adapters.zeep_wsse`): the
  transport takes them from the Security header zeep wrote and removes it, so zeep's clear-text password never
  travels; other wsse plugins are refused by name.  Each user gets a conversation of their own.
- zeep's ``Transport(session=..., timeout=..., operation_timeout=...)`` settings reach the operation calls
  (:mod:`wssc.adapters.zeep_settings`); :class:`AsyncWsscTransport` sends them with ``AsyncTransport``'s own
  ``httpx.AsyncClient`` (``client=``).  ``client_options={"http": ...}`` overrides both.
- A fault the service sends protected under the context (an application fault) is verified, decrypted and
  handed to zeep with HTTP status 500: zeep raises ``zeep.exceptions.Fault`` with its code, reason and detail.
  Unprotected faults (WS-Security, WS-SC, WS-Trust) raise wssc's typed :class:`~wssc.errors.WsscError`.
- A bootstrap given by hand speaks WS-SC February 2005 unless told ``version=`` (WCF's ``wsHttpBinding``, what
  services mostly are); with the WSDL's policy the version is the policy's.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import TracebackType
from typing import Any, Final, Generic, TypeVar

import httpx
import requests
from lxml import etree
from zeep.transports import AsyncTransport, Transport

from wssc import namespaces as ns
from wssc.adapters.http_client import AsyncWsscClient, WsscClient
from wssc.adapters.zeep_settings import httpx_options
from wssc.adapters.zeep_wsse import WsseCredentials, is_security_header, take_security_headers
from wssc.conversation.bootstrap import Bootstrap, ClientBootstrap, TransportBootstrap
from wssc.conversation.policy_client import ClientConfiguration, ClientCredentials, configure_client
from wssc.policy.kinds import SPNEGO_MECHANISM
from wssc.policy.ws_policy import PolicyError
from wssc.policy.wsdl import PortInfo, parse_wsdl
from wssc.primitives.xml import Element, serialize
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.versions import SC_2005_02, SCVersion

C = TypeVar("C", WsscClient, AsyncWsscClient)
_log = logging.getLogger(__name__)


class UnsupportedMessage(ValueError):
    """zeep asked for something this transport cannot carry (an operation without an action)."""


class ConflictingCredentials(ValueError):
    """zeep's ``wsse`` names another user than the transport's credentials or bootstrap, or a user the
    endpoint's binding has no place for (refused before anything is sent)."""


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


#: zeep's default ``timeout`` (seconds; ``Transport`` and ``AsyncTransport``), for the operations when no
#: ``operation_timeout`` is given
ZEEP_TIMEOUT_SECONDS: Final = 300

#: How :func:`~wssc.conversation.policy_client.configure_client` says a policy wants a user (told zeep's way here)
_NEEDS_USER: Final = "a user name and password are needed"

#: A conversation's key: endpoint address, SOAP version name, the user zeep's wsse named (None: the transport's).
Key = tuple[str, str, WsseCredentials | None]


class _Endpoints(Generic[C]):
    """What both transports share: each endpoint's bootstrap and client settings, given, or read from the
    WS-SecurityPolicy of the WSDLs zeep loads (:func:`~wssc.conversation.policy_client.configure_client`)."""

    bootstrap: Bootstrap | None
    version: SCVersion
    credentials: ClientCredentials
    client_options: dict[str, Any]
    #: port address -> what its WSDL's policy calls for (or why it cannot be followed)
    endpoints: dict[str, ClientConfiguration | PolicyError]
    #: port address -> the port, to configure again with the user zeep's wsse names
    ports: dict[str, PortInfo]
    clients: dict[Key, C]

    def __init__(
        self,
        bootstrap: Bootstrap | None = None,
        *,
        version: SCVersion = SC_2005_02,
        credentials: ClientCredentials | None = None,
        client_options: dict[str, Any] | None = None,
        **transport_options: Any,
    ) -> None:
        """``version``: for the ``bootstrap`` given by hand (default: February 2005, WCF's ``wsHttpBinding``);
        the policy's own otherwise.  ``transport_options``: zeep's (``session``, ``timeout``, ``operation_timeout``,
        ``cache``; ``client`` for the async transport)."""
        super().__init__(**transport_options)  # zeep's Transport or AsyncTransport
        self.bootstrap = bootstrap
        self.version = version
        self.credentials = credentials or ClientCredentials()
        self.client_options = dict(client_options or {})
        self.endpoints = {}
        self.ports = {}
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
                self.ports[port.address] = port
                self.endpoints[port.address] = self._first_usable(port, self.credentials)

    def _first_usable(
        self, port: PortInfo, credentials: ClientCredentials, *, sends_user: bool = False
    ) -> ClientConfiguration | PolicyError:
        """The first policy alternative of ``port`` wssc can follow (WS-Policy 1.5 section 3.2: the requester
        picks one), else why the first one cannot be followed; ``sends_user``: only one that sends the user
        named in ``credentials`` (zeep's wsse asked for it)."""
        if not port.policies:
            return PolicyError(f"port {port.name} publishes no security policy")
        first: PolicyError | None = None
        for alternative in port.policies:
            try:
                config = configure_client(
                    alternative,
                    soap=port.soap,
                    published_certificate=port.certificate,
                    credentials=credentials,
                    target=port.target_name(),
                )
            except PolicyError as error:
                first = first or error
                continue
            negotiation = alternative.negotiation()
            spnego = negotiation is not None and negotiation.mechanism == SPNEGO_MECHANISM
            if sends_user and not spnego and getattr(config.bootstrap, "username", None) is None:
                # the user the caller named would not be sent: not this alternative
                first = first or PolicyError(
                    f"the policy of port {port.name} has no place for a user name ({_name(config.bootstrap)}): "
                    f"the user {credentials.username!r} would not be sent"
                )
                continue
            return config
        assert first is not None
        return first

    def _user(self, wsse: WsseCredentials) -> ClientCredentials:
        """The transport's credentials with the user zeep's wsse names (the same one, or none, given there)."""
        given = self.credentials
        if given.username is not None and given.username != wsse.username:
            raise ConflictingCredentials(
                f"the transport's credentials name the user {given.username!r}, zeep's wsse UsernameToken "
                f"{wsse.username!r}: give the user once"
            )
        if given.username is not None and given.password != wsse.password:
            raise ConflictingCredentials(
                f"the transport's credentials and zeep's wsse UsernameToken give different passwords for "
                f"{wsse.username!r}: give the user once"
            )
        return replace(given, username=wsse.username, password=wsse.password)

    def _given_bootstrap(self, bootstrap: Bootstrap, wsse: WsseCredentials | None) -> Bootstrap:
        """The bootstrap given by hand, with the user zeep's wsse names where it takes one and has none."""
        if wsse is None:
            return bootstrap
        username = getattr(bootstrap, "username", None)
        if username is not None:
            if username != wsse.username or getattr(bootstrap, "password", wsse.password) != wsse.password:
                raise ConflictingCredentials(
                    f"the bootstrap given is for the user {username!r}, zeep's wsse UsernameToken for "
                    f"{wsse.username!r} (or with another password): give the user once"
                )
            return bootstrap
        if isinstance(bootstrap, TransportBootstrap) or (
            isinstance(bootstrap, ClientBootstrap) and bootstrap.client_certificate is None
        ):
            return replace(bootstrap, username=wsse.username, password=wsse.password)
        raise ConflictingCredentials(
            f"the bootstrap given ({_name(bootstrap)}) has no place for zeep's wsse UsernameToken for "
            f"{wsse.username!r}: give the user to the bootstrap, or leave wsse out"
        )

    def _arguments(
        self, address: str, soap: SOAPVersion, wsse: WsseCredentials | None = None
    ) -> tuple[Bootstrap, dict[str, Any]]:
        """The bootstrap and client keyword arguments for a conversation with ``address`` (as ``wsse``'s user)."""
        if self.bootstrap is not None:
            bootstrap = self._given_bootstrap(self.bootstrap, wsse)
            _log.debug("conversation with %s (%s, %s) by the bootstrap given", address, soap.name, _name(bootstrap))
            return bootstrap, {"version": self.version, "soap": soap, **self._client_options(address)}
        config = self.endpoints.get(address)
        if config is None:
            raise PolicyError(f"no bootstrap given and no WSDL policy read for {address}")
        if wsse is not None:
            _log.debug("zeep's wsse UsernameToken names %r: the conversation with %s is theirs", wsse.username, address)
            config = self._first_usable(self.ports[address], self._user(wsse), sends_user=True)
        if isinstance(config, PolicyError):
            if wsse is None and str(config).endswith(_NEEDS_USER):
                raise PolicyError(f"{config}: give zeep's wsse=UsernameToken(user, password)") from None
            raise config
        options = {
            "version": config.version,
            "soap": soap,
            "policy": config.policy,
            "entropy_mode": config.entropy_mode,
            "establish_security_context": config.establish_security_context,
            "must_not_send_cancel": config.must_not_send_cancel,
            "over_tls": config.over_tls,
            **self._client_options(address),
        }
        return config.bootstrap, options

    def _client_options(self, address: str) -> dict[str, Any]:
        return self.client_options


def _name(bootstrap: Bootstrap) -> str:
    return str(getattr(bootstrap, "name", type(bootstrap).__name__))


def _request(
    envelope: Element, headers: dict[str, str]
) -> tuple[SOAPVersion, list[Element], str, list[Element], WsseCredentials | None]:
    """What zeep built: SOAP version, Body payload, action, application headers (zeep's own WS-Addressing
    headers, from its WsAddressingPlugin, give way to the ones wssc writes and signs) and the user its wsse
    named.  Every WS-Security header is taken out first: never an application header."""
    soap = SOAP11 if etree.QName(envelope).namespace == SOAP11.namespace else SOAP12
    header = envelope.find(soap.qname("Header"))
    wsse = take_security_headers(header)
    application_headers = [
        h for h in (header if header is not None else ()) if isinstance(h.tag, str)
        and etree.QName(h).namespace not in ns.WSA_NAMESPACES and not is_security_header(h)
    ]  # fmt: skip
    body = envelope.find(soap.qname("Body"))
    payload = [child for child in body if isinstance(child.tag, str)] if body is not None else []
    return soap, payload, _action(envelope, headers, soap), application_headers, wsse


def _response(verified: VerifiedMessage, soap: SOAPVersion, address: str) -> requests.Response:
    """The answer zeep parses: only what wssc verified and decrypted; HTTP 500 for a (protected) fault, which
    zeep then raises as ``zeep.exceptions.Fault`` (SOAP 1.1 section 6.2)."""
    response = requests.Response()
    fault = any(child.tag == soap.qname("Fault") for child in verified.payload())
    response.status_code = 500 if fault else 200
    response.headers["Content-Type"] = soap.content_type
    response.encoding = "utf-8"
    response.url = address
    response._content = serialize(verified.envelope)
    return response


class WsscTransport(_Endpoints[WsscClient], Transport):
    """A zeep transport whose operation calls go through one secure conversation per endpoint address (and
    user).

    With a ``bootstrap`` every endpoint is called that way, in ``version``.  Without one, the transport reads
    the WS-SecurityPolicy of the WSDLs zeep loads through it and configures each port's conversation from
    its policy (bootstrap binding, WS-SC version, suite, entropy, service certificate as published), with
    the caller's ``credentials`` (the user name and password may come from zeep's ``wsse=UsernameToken``
    instead).  The operation calls use zeep's ``session`` settings and timeouts (module documentation);
    ``client_options`` are further :class:`~wssc.adapters.http_client.WsscClient` keyword arguments
    (``policy``, ``issuer_url``, ``http``, ``http_options``...); the SOAP version follows the WSDL."""

    def _client_options(self, address: str) -> dict[str, Any]:
        """The caller's ``http`` client as given; else one sending as zeep's session would send to ``address``."""
        if "http" in self.client_options:
            return self.client_options
        http_options = {
            **httpx_options(self.session, address, self._timeout()),
            **self.client_options.get("http_options", {}),
        }
        return {**self.client_options, "http_options": http_options}

    def _timeout(self) -> float | None:
        """zeep's ``operation_timeout`` (also as set by ``transport.settings(timeout=...)``), else ``timeout``."""
        timeout = self.operation_timeout if self.operation_timeout is not None else self.load_timeout
        return None if timeout is None else float(timeout)

    def client_for(self, address: str, soap: SOAPVersion, wsse: WsseCredentials | None = None) -> WsscClient:
        """The conversation with ``address`` as ``wsse``'s user (created, not yet established, on first use)."""
        key = (address, soap.name, wsse)
        if key not in self.clients:
            bootstrap, options = self._arguments(address, soap, wsse)
            self.clients[key] = WsscClient(address, bootstrap, **options)
        return self.clients[key]

    def post_xml(self, address: str, envelope: Element, headers: dict[str, str]) -> requests.Response:
        soap, payload, action, application_headers, wsse = _request(envelope, headers)
        client = self.client_for(address, soap, wsse)
        if "http" not in self.client_options and "timeout" not in self.client_options.get("http_options", {}):
            client.http.timeout = httpx.Timeout(self._timeout())
        verified = client.call(payload, action, application_headers, http_headers=headers)
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
    as zeep's own AsyncTransport does).  The operation calls go through zeep's ``httpx.AsyncClient``
    (``client=``, or the one ``AsyncTransport`` makes from ``verify_ssl``, ``proxy`` and ``operation_timeout``);
    ``client_options`` go to :class:`~wssc.adapters.http_client.AsyncWsscClient` (``http`` another
    ``httpx.AsyncClient``)."""

    def __init__(self, bootstrap: Bootstrap | None = None, **options: Any) -> None:
        """As :class:`WsscTransport`; zeep's ``AsyncTransport`` options (``client``, ``verify_ssl``, ``proxy``,
        ``timeout``, ``operation_timeout``...).  The client AsyncTransport makes itself waits
        ``operation_timeout``, else ``timeout`` (zeep's would wait forever without an operation_timeout)."""
        super().__init__(bootstrap, **options)
        if options.get("client") is None and options.get("operation_timeout") is None:
            self.client.timeout = httpx.Timeout(options.get("timeout", ZEEP_TIMEOUT_SECONDS))

    def _client_options(self, address: str) -> dict[str, Any]:
        return self.client_options if "http" in self.client_options else {**self.client_options, "http": self.client}

    def client_for(self, address: str, soap: SOAPVersion, wsse: WsseCredentials | None = None) -> AsyncWsscClient:
        key = (address, soap.name, wsse)
        if key not in self.clients:
            bootstrap, options = self._arguments(address, soap, wsse)
            self.clients[key] = AsyncWsscClient(address, bootstrap, **options)
        return self.clients[key]

    async def post_xml(self, address: str, envelope: Element, headers: dict[str, str]) -> requests.Response:
        soap, payload, action, application_headers, wsse = _request(envelope, headers)
        client = self.client_for(address, soap, wsse)
        verified = await client.call(payload, action, application_headers, http_headers=headers)
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
