"""The client's negotiated contexts (NEGOTIATION.md sections 1.2, 1.3, 4 and 5), sans I/O.

:class:`NegotiatedBootstrap` is the :class:`~wssc.conversation.bootstrap.Bootstrap` of a client whose service
negotiates (WCF ``wsHttpBinding`` with ``negotiateServiceCredential=true`` or Windows credentials): before its
first use a driver runs the legs of a :class:`ClientNegotiation` (the adapters do: ``wssc.adapters.http_client``),
then every message it protects goes under the negotiated context, exactly as an SC session message (SCT, two
derived keys, section 4).  With ``establishSecurityContext=true`` (the default) those messages are only the
RST/SCT that obtains the session context; with ``false`` they are the application messages themselves.  A
UserNameForSslNegotiated client adds its UsernameToken, signed and encrypted, to each of them (section 5).

WCF's client renegotiates at 60 % of the negotiated context's lifetime and never cancels it
(``IssuanceTokenProviderBase.cs:26,303-342,401-413``); so does this one.
"""

from __future__ import annotations

import hashlib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wssc.conversation.bootstrap import username_supporting
from wssc.conversation.client_tokens import unprotect_under
from wssc.conversation.context import SecurityContext
from wssc.errors import InvalidSecurity, RequestFailed
from wssc.primitives.xml import parse
from wssc.security.addressing import Addressing, envelope, header_text
from wssc.security.faults import read_fault
from wssc.security.keys import ContextProtection
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import EndorsingToken, protect
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAPVersion, soap_version_of
from wssc.trust.negotiation import NegotiationMechanism
from wssc.trust.negotiation.initiator import NegotiationInitiator
from wssc.trust.negotiation.legs import DEFAULT_KEY_SIZE, Leg, Negotiated
from wssc.trust.negotiation.spnego import SpnegoInitiator
from wssc.trust.negotiation.tls import MIN_TLS_VERSION, TlsInitiator, client_context
from wssc.trust.negotiation.tls_keys import PrivateKey, load_key_pair
from wssc.versions import SCVersion

#: WCF renegotiates once this share of the negotiated context's lifetime has passed
#: (``IssuanceTokenProviderBase.DefaultClientMaxTokenCachingTimeRatio``... 60 %, NEGOTIATION.md section 1.3 step 5).
RENEGOTIATE_AT: Final = 0.6


class ClientNegotiation:
    """One negotiation's legs as SOAP envelopes: each carries WS-Addressing Action, MessageID, ReplyTo
    (anonymous) and To, and no ``wsse:Security`` (section 1.2); each reply must relate to its leg."""

    def __init__(
        self,
        mechanism: NegotiationMechanism,
        version: SCVersion,
        soap: SOAPVersion,
        address: str,
        *,
        key_size: int = DEFAULT_KEY_SIZE,
    ) -> None:
        self.initiator = NegotiationInitiator(mechanism, version, key_size=key_size)
        self.soap = soap
        self.address = address
        self._message_id: str | None = None
        #: the legs sent so far and their sizes, for diagnostics (``wssc call -v``, the benchmarks)
        self.sent: list[int] = []
        self.received: list[int] = []

    def first(self) -> tuple[bytes, str]:
        """The first leg: (envelope, action)."""
        return self._send(self.initiator.first_leg())

    def receive(self, data: bytes) -> tuple[bytes, str] | SecurityContext:
        """Take a reply: the next leg to send, or the negotiated context.  A fault raises its typed error
        (``wst:FailedAuthentication``: our credential was refused; ``dnse:ServerTooBusy``: retry later)."""
        self.received.append(len(data))
        root = parse(data)
        fault = read_fault(root)
        if fault is not None:
            raise fault.to_error(RequestFailed)
        soap = soap_version_of(root)
        if soap is not self.soap:
            raise InvalidSecurity("the negotiation reply is in another SOAP version")
        if header_text(root.find(soap.qname("Header")), "RelatesTo") != self._message_id:
            raise InvalidSecurity("the negotiation reply does not relate to our leg")
        body = root.find(soap.qname("Body"))
        children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
        if len(children) != 1:
            raise InvalidSecurity("a negotiation reply has exactly one body element")
        result = self.initiator.receive(children[0])
        if isinstance(result, Leg):
            return self._send(result)
        return negotiated_context(result)

    def _send(self, leg: Leg) -> tuple[bytes, str]:
        self._message_id = "urn:uuid:" + str(uuid.uuid4())
        data = envelope(leg.body, Addressing(leg.action, to=self.address, message_id=self._message_id), self.soap)
        self.sent.append(len(data))
        return data, leg.action


def negotiated_context(negotiated: Negotiated) -> SecurityContext:
    """The client's view of a negotiated context: the SCT as issued (echoed verbatim), the unwrapped key."""
    lifetime = negotiated.lifetime
    token = negotiated.token
    if lifetime is None or lifetime.created is None or lifetime.expires is None:
        raise InvalidSecurity("the negotiated context has no Lifetime")
    return SecurityContext(
        token.identifier,
        negotiated.key,
        lifetime.created,
        lifetime.expires,
        negotiated.version,
        token.instance,
        (),
        (),
        token,
    )


@dataclass(frozen=True)
class PendingNegotiated:
    """The check of a response to a message protected under the negotiated context: protected by it too."""

    context: SecurityContext = field(repr=False)

    def unprotect(self, data: bytes, requirements: Requirements, now: datetime | None = None) -> VerifiedMessage:
        return unprotect_under(self.context, data, requirements, now or datetime.now(timezone.utc))


class NegotiatedBootstrap:
    """A bootstrap binding over a negotiated context (module docstring).

    ``new_mechanism`` makes the initiator of each negotiation (:func:`wssc.conversation.negotiating.tlsnego`,
    :class:`~wssc.trust.negotiation.spnego.SpnegoInitiator`...); ``username``/``password``:
    UserNameForSslNegotiated; ``policy``: how messages under the negotiated context are protected (the
    bootstrap policy's SymmetricBinding; WCF's default, as :class:`ProtectionPolicy`)."""

    def __init__(
        self,
        new_mechanism: Callable[[], NegotiationMechanism],
        *,
        username: str | None = None,
        password: str | None = None,
        policy: ProtectionPolicy | None = None,
        key_size: int = DEFAULT_KEY_SIZE,
    ) -> None:
        self.new_mechanism = new_mechanism
        self.username = username
        self._password = password
        self.policy = policy or ProtectionPolicy()
        self.key_size = key_size
        #: the negotiated context, once a negotiation finished
        self.context: SecurityContext | None = None
        #: the mechanism of the last negotiation (its peer certificate, principal...) and its legs
        self.mechanism: NegotiationMechanism | None = None
        self.last: ClientNegotiation | None = None

    def __repr__(self) -> str:
        return f"NegotiatedBootstrap(username={self.username!r}, negotiated={self.context is not None})"

    @property
    def name(self) -> str:
        return "negotiated"

    @property
    def service_certificate(self) -> x509.Certificate | None:
        """The service certificate TLSNEGO authenticated, if any."""
        certificate = getattr(self.mechanism, "peer_certificate", None)
        return certificate if isinstance(certificate, x509.Certificate) else None

    def needs_negotiation(self, now: datetime) -> bool:
        """No negotiated context yet, or 60 % of its lifetime gone (WCF renegotiates then)."""
        context = self.context
        if context is None:
            return True
        return now >= context.created + (context.expires - context.created) * RENEGOTIATE_AT

    def negotiation(self, version: SCVersion, soap: SOAPVersion, address: str) -> ClientNegotiation:
        """A fresh negotiation with the service at ``address``; hand its result to :meth:`accept`."""
        self.mechanism = self.new_mechanism()
        self.last = ClientNegotiation(self.mechanism, version, soap, address, key_size=self.key_size)
        return self.last

    def accept(self, context: SecurityContext) -> None:
        self.context = context

    def forget(self) -> None:
        """Drop the negotiated context (the service no longer knows it): the next use negotiates anew."""
        self.context = None

    def protect(
        self,
        envelope: bytes,
        version: SCVersion,
        now: datetime | None = None,
        endorsing: tuple[EndorsingToken, ...] = (),
    ) -> tuple[bytes, PendingNegotiated]:
        context = self.context
        if context is None:
            raise RuntimeError("negotiate first: NegotiatedBootstrap has no negotiated context")
        supporting = username_supporting(self.username, self._password)
        sct = context.sct()
        protected = protect(
            envelope,
            ContextProtection(sct, context.key, "local" if sct.wsu_id else "external"),
            self.policy,
            version=version,
            now=now,
            supporting_tokens=supporting,
            endorsing=endorsing,
        )
        return protected.data, PendingNegotiated(context)


def tlsnego(
    *,
    verify: bool | str = True,
    service_certificate: x509.Certificate | None = None,
    cert: tuple[str, str | None] | None = None,
    client_certificate: x509.Certificate | None = None,
    client_key: PrivateKey | None = None,
    minimum_version: ssl.TLSVersion = MIN_TLS_VERSION,
) -> Callable[[], NegotiationMechanism]:
    """The client's TLSNEGO mechanism, one per negotiation (NEGOTIATION.md sections 1.5, 2.3, 5), configured as an
    httpx or requests user would: ``verify`` is True (the system's CA store), or a CA bundle file; a
    ``service_certificate`` (from the WSDL or the caller) is pinned, and alone, with ``verify=True``, it is the
    whole check (WCF's PeerTrust).  A client certificate (MutualSslNegotiated) as ``cert=(certfile, keyfile)`` or
    as ``client_certificate`` and ``client_key`` objects (from PEM or PKCS#12).  No SNI is sent, as WCF."""
    if verify is False:
        raise ValueError("TLSNEGO must authenticate the service: give a CA bundle or the service certificate")
    if (client_certificate is None) != (client_key is None):
        raise ValueError("a client certificate and its private key go together")
    pin = None
    if service_certificate is not None:
        pin = hashlib.sha256(service_certificate.public_bytes(serialization.Encoding.DER)).digest()
    if isinstance(verify, str):
        context = client_context(cafile=verify)
    else:
        context = client_context()
        if pin is None:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
            context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = minimum_version
    if cert is not None:
        context.load_cert_chain(*cert)
    elif client_certificate is not None and client_key is not None:
        load_key_pair(context, client_certificate, client_key)

    def new() -> NegotiationMechanism:
        return TlsInitiator(context, pinned_sha256=pin, minimum_version=minimum_version)

    return new


def spnego(
    target: str,
    *,
    username: str | None = None,
    password: str | None = None,
    protocol: str = "negotiate",
    allow_ntlm: bool = True,
) -> Callable[[], NegotiationMechanism]:
    """The client's SPNEGO mechanism, one per negotiation (WCF's Windows credential, NEGOTIATION.md section 6):
    ``target`` is the service principal (``HTTP/host``, ``host/host``, a UPN; :func:`~wssc.trust.negotiation.
    spnego_names.target_name` derives WCF's from an endpoint identity); without ``username`` the current Kerberos
    login (``kinit``), else ``DOMAIN\\\\user`` or a UPN with its password; ``protocol`` ``kerberos`` or ``ntlm``
    narrows the mechanism, ``allow_ntlm=False`` refuses NTLM (WCF's AllowNtlm)."""

    def new() -> NegotiationMechanism:
        return SpnegoInitiator(target, username=username, password=password, protocol=protocol, allow_ntlm=allow_ntlm)

    return new
