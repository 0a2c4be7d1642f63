"""Calling a WS-SecureConversation service over HTTP with httpx, synchronously or with asyncio.

The exchanges are written once, as generators that yield request bytes and receive response bytes
(``_flow_*``); :class:`WsscClient` pumps them with ``httpx.Client`` and :class:`AsyncWsscClient` with
``httpx.AsyncClient``.  Recovery follows WS-SC 1.3 section 9 as WCF does: ``wsc:RenewNeeded`` renews
and retries once, ``wsc:BadContextToken`` establishes a new context and retries once; the client renews
on its own when the renewal interval has passed, and cancels on close unless told MustNotSendCancel.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.adapters.http_errors import EndpointNotFound, HttpError, NotSoapResponse, checked_content
from wssc.adapters.keylog import KeyLog
from wssc.adapters.observe import ClientObserver
from wssc.adapters.trace import Tracer
from wssc.conversation.bootstrap import Bootstrap, TransportBootstrap
from wssc.conversation.client import ClientSession
from wssc.conversation.client_events import Response, Validated
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.context import SecurityContext
from wssc.conversation.negotiating import NegotiatedBootstrap
from wssc.errors import BadContextToken, RenewNeeded
from wssc.primitives.xml import Element
from wssc.security.policy import ProtectionPolicy
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3, SCVersion

T = TypeVar("T")
#: httpx's timeout for the clients wssc makes itself (seconds, each of connect, read, write and pool)
DEFAULT_TIMEOUT_SECONDS: Final = 30.0
#: Headers of the SOAP HTTP binding, always wssc's own (SOAP 1.1 section 6.1, SOAP 1.2 part 2 section 7.1.4)
_SOAP_HEADERS: Final = frozenset({"content-type", "soapaction", "content-length"})

__all__ = ["AsyncWsscClient", "EndpointNotFound", "HttpError", "NotSoapResponse", "WsscClient"]
Flow = Generator[tuple[bytes, str], bytes, T]
"""Yields (request, action), receives the response bytes, returns the result."""


def _flow_negotiate(session: ClientSession, *, again: bool = False) -> Flow[None]:
    """Negotiate the bootstrap's context first when it is a negotiated one (NEGOTIATION.md section 1.3): unsecured
    legs to the service address until the final RSTRC; ``again`` drops the one there is (the service lost it)."""
    bootstrap = session.bootstrap
    if not isinstance(bootstrap, NegotiatedBootstrap):
        return
    if again:
        bootstrap.forget()
    if not bootstrap.needs_negotiation(session.clock()):
        return
    settings = session.settings
    negotiation = bootstrap.negotiation(settings.version, settings.soap, session.address)
    step = negotiation.first()
    while True:
        session.last_target = "service"
        result = negotiation.receive((yield step))
        if isinstance(result, SecurityContext):
            bootstrap.accept(result)
            if session.on_new_key is not None:
                session.on_new_key(result)
            return
        step = result


def _flow_establish(session: ClientSession) -> Flow[SecurityContext]:
    yield from _flow_negotiate(session)
    request = session.establish()
    session.receive((yield request, session.last_action))
    assert session.context is not None
    return session.context


def _flow_renew(session: ClientSession) -> Flow[SecurityContext]:
    request = session.renew()
    session.receive((yield request, session.last_action))
    assert session.context is not None
    return session.context


def _flow_call(
    session: ClientSession, body: Element | bytes | list[Element], action: str, headers: Sequence[Element] = ()
) -> Flow[VerifiedMessage]:
    if not session.settings.establish_security_context:
        yield from _flow_negotiate(session)
        try:
            event = session.receive((yield session.request(body, action, headers), action))
        except BadContextToken:
            if not isinstance(session.bootstrap, NegotiatedBootstrap):
                raise
            yield from _flow_negotiate(session, again=True)  # the service forgot the negotiated context: once more
            event = session.receive((yield session.request(body, action, headers), action))
        assert isinstance(event, Response)
        return event.message
    if not session.established:
        yield from _flow_establish(session)
    elif session.needs_renewal():
        yield from _flow_renew(session)
    for attempt in range(2):
        request = session.request(body, action, headers)
        try:
            event = session.receive((yield request, action))
        except RenewNeeded:
            if attempt:
                raise
            yield from _flow_renew(session)
            continue
        except BadContextToken:
            if attempt:
                raise
            session.context = None
            try:
                yield from _flow_establish(session)
            except BadContextToken:  # the negotiated context is gone too: negotiate anew
                yield from _flow_negotiate(session, again=True)
                yield from _flow_establish(session)
            continue
        assert isinstance(event, Response)
        return event.message
    raise AssertionError("unreachable")


def _flow_simple(session: ClientSession, request: bytes) -> Flow[object]:
    return session.receive((yield request, session.last_action))


def _headers(soap: SOAPVersion, action: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """SOAP 1.1 needs SOAPAction.  SOAP 1.2's optional ``action`` media-type parameter is left out: Mono's
    WCF lets it replace the signed wsa:Action header and then fails the signature reference.  ``extra``
    headers never replace these."""
    headers = {k: v for k, v in (extra or {}).items() if k.lower() not in _SOAP_HEADERS}
    if soap is SOAP11:
        return {**headers, "Content-Type": SOAP11.content_type, "SOAPAction": f'"{action}"'}
    return {**headers, "Content-Type": SOAP12.content_type}


def _http_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """httpx client keyword arguments, with wssc's default timeout unless one is given."""
    return {"timeout": DEFAULT_TIMEOUT_SECONDS, **(options or {})}


class _Base:
    def __init__(
        self,
        url: str,
        bootstrap: Bootstrap,
        *,
        settings: ClientSettings | None = None,
        version: SCVersion = SC_1_3,
        soap: SOAPVersion = SOAP12,
        policy: ProtectionPolicy | None = None,
        must_not_send_cancel: bool = False,
        keylog: KeyLog | None = None,
        establish_security_context: bool = True,
        issuer_url: str | None = None,
        over_tls: bool | None = None,
        entropy_mode: EntropyMode = EntropyMode.COMBINED,
        trace: Tracer | None = None,
    ) -> None:
        """``settings`` configure the conversation whole (its ``issuer_address`` is the ``issuer_url``);
        without them, the keywords ``version`` to ``entropy_mode`` make them up, as before.  ``keylog`` and
        ``trace`` default to what ``WSSC_KEYLOG`` and ``WSSC_TRACE`` ask for (:mod:`wssc.adapters.trace`)."""
        keylog = keylog if keylog is not None else KeyLog.from_environment()
        #: logs each exchange and writes the message trace
        self.observer = ClientObserver(trace if trace is not None else Tracer.from_environment())
        options = (version, soap, policy, establish_security_context, issuer_url, over_tls, entropy_mode)
        if settings is None:
            settings = ClientSettings(
                version=version,
                soap=soap,
                policy=policy,
                establish_security_context=establish_security_context,
                entropy_mode=entropy_mode,
                issuer_address=issuer_url,
                # TransportWithMessageCredential when the bootstrap is the transport one; message security
                # (also over HTTPS) otherwise, as WCF's Message mode.
                over_tls=isinstance(bootstrap, TransportBootstrap) if over_tls is None else over_tls,
            )
        elif options != (SC_1_3, SOAP12, None, True, None, None, EntropyMode.COMBINED):
            raise TypeError("give the settings or the keywords that make them up, not both")
        #: a separate security token service sharing the service's context store
        self.issuer_url = settings.issuer_address
        on_plaintext = self.observer.plaintext if self.observer.tracer is not None else None
        self.session = ClientSession(bootstrap, url, settings, on_new_key=keylog, on_plaintext=on_plaintext)
        self.url = url
        self.must_not_send_cancel = must_not_send_cancel

    def _target(self) -> str:
        if self.issuer_url is not None and self.session.last_target == "issuer":
            return self.issuer_url
        return self.url


class WsscClient(_Base):
    """A blocking client; use as a context manager so the context is cancelled on exit."""

    def __init__(
        self,
        url: str,
        bootstrap: Bootstrap,
        *,
        http: httpx.Client | None = None,
        http_options: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        """``http``: the caller's client (left open); else one made with ``http_options`` (httpx.Client keyword
        arguments: ``verify``, ``cert``, ``proxy``, ``headers``, ``timeout``...) and closed with this client."""
        super().__init__(url, bootstrap, **kw)
        self._own_http = http is None
        self.http = http or httpx.Client(**_http_options(http_options))

    def _run(self, flow: Flow[T], http_headers: Mapping[str, str] | None = None) -> T:
        try:
            request, action = next(flow)
            while True:
                target = self._target()
                headers = _headers(self.session.settings.soap, action, http_headers)
                started = self.observer.sent(target, request)
                try:
                    response = self.http.post(target, content=request, headers=headers)
                    self.observer.received(target, request, response.status_code, response.content, started)
                    content = checked_content(response)  # an HTTP error without a SOAP answer
                except BaseException:  # a timeout, a lost connection, an interrupt: the client stays usable
                    self.session.abandon()
                    raise
                request, action = flow.send(content)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def establish(self) -> SecurityContext:
        return self._run(_flow_establish(self.session))

    def call(
        self,
        body: Element | bytes | list[Element],
        action: str,
        headers: Sequence[Element] = (),
        *,
        http_headers: Mapping[str, str] | None = None,
    ) -> VerifiedMessage:
        """One operation: ``body`` with ``action`` (and signed application ``headers``) under the context;
        ``http_headers`` go with each HTTP request of the exchange (the SOAP ones stay wssc's)."""
        return self._run(_flow_call(self.session, body, action, headers), http_headers)

    def renew(self) -> SecurityContext:
        return self._run(_flow_renew(self.session))

    def propagate(self, certificate: x509.Certificate, private_key: rsa.RSAPrivateKey) -> SecurityContext:
        """Create a context here and hand it to the service in an unsolicited RSTR (WS-SC 1.3 section 3.3)."""
        self._run(_flow_simple(self.session, self.session.propagate(certificate, private_key)))
        assert self.session.context is not None
        return self.session.context

    def amend(self, certificate: x509.Certificate, private_key: rsa.RSAPrivateKey) -> None:
        self._run(_flow_simple(self.session, self.session.amend(certificate, private_key)))

    def validate(self) -> bool:
        event = self._run(_flow_simple(self.session, self.session.validate()))
        assert isinstance(event, Validated)
        return event.valid

    def cancel(self) -> None:
        self._run(_flow_simple(self.session, self.session.cancel()))

    def close(self) -> None:
        try:
            if self.session.established and not self.must_not_send_cancel and not self.session.stateless:
                self.cancel()
        finally:
            if self._own_http:
                self.http.close()

    def __enter__(self) -> WsscClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class AsyncWsscClient(_Base):
    """The asyncio twin of :class:`WsscClient` (one exchange at a time per client)."""

    def __init__(
        self,
        url: str,
        bootstrap: Bootstrap,
        *,
        http: httpx.AsyncClient | None = None,
        http_options: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(url, bootstrap, **kw)
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(**_http_options(http_options))

    async def _run(self, flow: Flow[T], http_headers: Mapping[str, str] | None = None) -> T:
        try:
            request, action = next(flow)
            while True:
                target = self._target()
                headers = _headers(self.session.settings.soap, action, http_headers)
                started = self.observer.sent(target, request)
                try:
                    response = await self.http.post(target, content=request, headers=headers)
                    self.observer.received(target, request, response.status_code, response.content, started)
                    content = checked_content(response)  # an HTTP error without a SOAP answer
                except BaseException:  # also a cancelled task (asyncio.timeout, wait_for)
                    self.session.abandon()
                    raise
                request, action = flow.send(content)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def establish(self) -> SecurityContext:
        return await self._run(_flow_establish(self.session))

    async def call(
        self,
        body: Element | bytes | list[Element],
        action: str,
        headers: Sequence[Element] = (),
        *,
        http_headers: Mapping[str, str] | None = None,
    ) -> VerifiedMessage:
        return await self._run(_flow_call(self.session, body, action, headers), http_headers)

    async def renew(self) -> SecurityContext:
        return await self._run(_flow_renew(self.session))

    async def propagate(self, certificate: x509.Certificate, private_key: rsa.RSAPrivateKey) -> SecurityContext:
        """Create a context here and hand it to the service in an unsolicited RSTR (WS-SC 1.3 section 3.3)."""
        await self._run(_flow_simple(self.session, self.session.propagate(certificate, private_key)))
        assert self.session.context is not None
        return self.session.context

    async def amend(self, certificate: x509.Certificate, private_key: rsa.RSAPrivateKey) -> None:
        await self._run(_flow_simple(self.session, self.session.amend(certificate, private_key)))

    async def validate(self) -> bool:
        event = await self._run(_flow_simple(self.session, self.session.validate()))
        assert isinstance(event, Validated)
        return event.valid

    async def cancel(self) -> None:
        await self._run(_flow_simple(self.session, self.session.cancel()))

    async def aclose(self) -> None:
        try:
            if self.session.established and not self.must_not_send_cancel and not self.session.stateless:
                await self.cancel()
        finally:
            if self._own_http:
                await self.http.aclose()

    async def __aenter__(self) -> AsyncWsscClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
