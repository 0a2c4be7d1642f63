"""The service's negotiated contexts (WS-SC 1.3 section 3, "created through negotiation"; NEGOTIATION.md sections
1.2, 1.4, 4, 5 and 7): the unsecured legs, the issued context and its claims.

A :class:`Negotiator` says how a service negotiates: SPNEGO (Windows credentials, Kerberos or NTLM) or TLSNEGO
(a TLS handshake: AnonymousSslNegotiated, MutualSslNegotiated with a client certificate; UserNameForSslNegotiated
adds a UsernameToken in the messages, checked by the service's credentials).  :class:`NegotiationService`
answers the legs through a :class:`~wssc.trust.negotiation.acceptor.NegotiationAcceptor` and stores each
negotiated context, session mode (WCF's ``wsHttpBinding`` sets ``requireCancellation``, section 4), with the
claims the mechanism proved and the :data:`NEGOTIATED` claim that lets it, and only it, issue a session context
by RST/SCT (``establishSecurityContext=true``).  Faults are WCF's: ``wst:FailedAuthentication`` and
``wst:InvalidRequest`` in the Feb 2005 trust namespace whatever the version, ``dnse:ServerTooBusy`` (section 7).
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc import namespaces as ns
from wssc.conversation.context import Claim, SecurityContext
from wssc.conversation.events import FaultReply, Reply, TokenReply
from wssc.conversation.store import ContextStore, StoreFull
from wssc.errors import FailedAuthentication, InvalidRequest, ServerTooBusy, TrustFailedAuthentication, WsscError
from wssc.primitives.xml import Element
from wssc.security.addressing import Addressing, action_of, envelope, message_id_of
from wssc.security.faults import fault_envelope
from wssc.security.soap import SOAPVersion
from wssc.tokens.x509_trust import CertificateTrust
from wssc.trust.elements import RequestType
from wssc.trust.negotiation import SPNEGO, TLSNEGO, NegotiationMechanism
from wssc.trust.negotiation.acceptor import NegotiationAcceptor
from wssc.trust.negotiation.legs import Negotiated
from wssc.trust.negotiation.spnego import SpnegoAcceptor
from wssc.trust.negotiation.tls import MIN_TLS_VERSION, TlsAcceptor
from wssc.trust.negotiation.tls_keys import load_key_pair, pem_bundle
from wssc.versions import SC_2005_02, VERSIONS

_log = logging.getLogger(__name__)

#: The bootstrap names of the two negotiations (``ServiceSettings.bootstrap``, ``wssc serve --bootstrap``).
SPNEGO_BOOTSTRAP: Final = "spnego"
TLSNEGO_BOOTSTRAP: Final = "tlsnego"
NEGOTIATED_BOOTSTRAPS: Final = {SPNEGO_BOOTSTRAP: SPNEGO, TLSNEGO_BOOTSTRAP: TLSNEGO}
#: The claim type that marks a context as negotiated (its value: ``spnego`` or ``tlsnego``).  Only such a context
#: may issue a session context (RST/SCT under it); the session context does not inherit the mark.
NEGOTIATED: Final = "negotiated"


@dataclass(frozen=True)
class Negotiator:
    """How a service negotiates: the mechanism, a fresh acceptor per negotiation, and the claims of a completed
    one.  Build it with :meth:`tlsnego` or :meth:`spnego`."""

    bootstrap: str
    new_acceptor: Callable[[], NegotiationMechanism]
    claims: Callable[[NegotiationMechanism], tuple[Claim, ...]]
    require_client_certificate: bool = False
    #: the service principal SPNEGO clients target, published as the WSDL port's ``Spn`` identity
    spn: str | None = None

    @property
    def mechanism(self) -> str:
        return NEGOTIATED_BOOTSTRAPS[self.bootstrap]

    @classmethod
    def tlsnego(
        cls,
        certificate: x509.Certificate,
        private_key: rsa.RSAPrivateKey,
        *,
        client_trust: CertificateTrust | None = None,
        require_client_certificate: bool = False,
        minimum_version: ssl.TLSVersion = MIN_TLS_VERSION,
        maximum_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
        chain: Sequence[x509.Certificate] = (),
    ) -> Negotiator:
        """TLSNEGO with the service certificate: AnonymousSslNegotiated, or MutualSslNegotiated when
        ``require_client_certificate`` (the client certificate is then requested in the handshake and must
        satisfy ``client_trust``, NEGOTIATION.md section 5)."""
        if require_client_certificate and client_trust is None:
            raise ValueError("MutualSslNegotiated needs the client_trust that validates client certificates")
        context = _server_context(certificate, private_key, chain, client_trust if require_client_certificate else None)
        context.minimum_version, context.maximum_version = minimum_version, maximum_version

        def new() -> NegotiationMechanism:
            return TlsAcceptor(
                context,
                require_client_certificate=require_client_certificate,
                client_trust=client_trust,
                minimum_version=minimum_version,
            )

        return cls(TLSNEGO_BOOTSTRAP, new, tls_claims, require_client_certificate)

    @classmethod
    def spnego(
        cls,
        *,
        keytab: str | os.PathLike[str] | None = None,
        spn: str | None = None,
        ntlm_users: str | os.PathLike[str] | Mapping[str, str] | None = None,
        protocol: str = "negotiate",
    ) -> Negotiator:
        """SPNEGO (WCF's Windows credential, NEGOTIATION.md section 6): Kerberos with the service keys of
        ``keytab`` (default ``KRB5_KTNAME``), for ``spn`` alone when given; NTLM against ``ntlm_users``
        (``DOMAIN:user:password`` lines, or a mapping); ``protocol`` narrows to ``kerberos`` or ``ntlm``."""

        def new() -> NegotiationMechanism:
            return SpnegoAcceptor(protocol=protocol, keytab=keytab, spn=spn, ntlm_users=ntlm_users)

        new()  # fail now, not at the first client, on a malformed SPN or user file
        return cls(SPNEGO_BOOTSTRAP, new, spnego_claims, spn=spn)


def tls_claims(mechanism: NegotiationMechanism) -> tuple[Claim, ...]:
    """A TLS client certificate (MutualSslNegotiated), or an anonymous client (section 4: WCF adds no claims)."""
    certificate = getattr(mechanism, "peer_certificate", None)
    if isinstance(certificate, x509.Certificate):
        subject = certificate.subject.rfc4514_string()
        return (Claim("x509", subject, "tls-client-certificate"), Claim("authentication", "certificate"))
    return (Claim("authentication", "anonymous"),)


def spnego_claims(mechanism: NegotiationMechanism) -> tuple[Claim, ...]:
    """The Windows identity SPNEGO authenticated: ``user@REALM`` (Kerberos) or ``DOMAIN\\user`` (NTLM), issued by
    that protocol (section 4: WCF's ``WindowsClaimSet``)."""
    identity = getattr(mechanism, "peer_identity", None)
    if not isinstance(identity, tuple) or len(identity) != 2:
        raise TrustFailedAuthentication("the SPNEGO negotiation named no client")
    protocol, principal = identity
    return (Claim("name", str(principal), str(protocol)), Claim("authentication", str(protocol)))


def is_negotiated(context: SecurityContext) -> bool:
    return any(claim.type == NEGOTIATED for claim in context.claims)


def session_claims(context: SecurityContext) -> tuple[Claim, ...]:
    """The claims a session context issued under a negotiated one inherits: all but the negotiation mark."""
    return tuple(claim for claim in context.claims if claim.type != NEGOTIATED)


def is_negotiation_leg(header: Element | None, body: Element | None) -> bool:
    """Whether a request is a negotiation leg: no ``wsse:Security`` header (the negotiation host takes only
    unsecured legs, ``SspiNegotiationTokenAuthenticator.cs:383-404``; a leg with one goes through the security
    checks like any message, and fails them), and an RST/Issue holding a BinaryExchange or an RSTR/Issue RSTR of
    either WS-Trust version (section 1.4 step 1)."""
    if body is None or len(body) != 1:
        return False
    if header is not None and header.find(ns.qn(ns.WSSE, "Security")) is not None:
        return False
    child = body[0]
    action = action_of(header) or ""
    for version in VERSIONS:
        if action == version.action("RST/Issue") and child.tag == version.trust_qname("RequestSecurityToken"):
            return child.find(version.trust_qname("BinaryExchange")) is not None
        if action == version.action("RSTR/Issue") and child.tag == version.trust_qname("RequestSecurityTokenResponse"):
            return True
    return False


class NegotiationService:
    """The service end of every negotiation (module docstring); the legs reach it before any verification, since
    they are unsecured by design (section 1.2), so nothing here runs before the mechanism authenticates."""

    def __init__(
        self, negotiator: Negotiator, store: ContextStore, clock: Callable[[], datetime], **limits: object
    ) -> None:
        """``limits``: :class:`NegotiationAcceptor` keywords (``timeout``, ``max_pending``, ``lifetime``...)."""
        self.negotiator = negotiator
        self.store = store
        self.clock = clock
        self.on_new_key: Callable[[SecurityContext], None] | None = None
        self.acceptor = NegotiationAcceptor(
            negotiator.new_acceptor,
            negotiator.mechanism,
            clock=clock,
            **limits,  # type: ignore[arg-type]
        )

    def receive(self, header: Element | None, body: Element, soap: SOAPVersion) -> TokenReply | FaultReply:
        """Answer one leg: the next leg, the final RSTRC with the stored context, or WCF's fault."""
        relates_to = message_id_of(header)
        try:
            reply = self.acceptor.receive(action_of(header) or "", body[0])
            context = None
            if reply.negotiated is not None:
                context = self._store(reply.negotiated)
            addressing = Addressing(reply.leg.action, relates_to=relates_to, reply_to_anonymous=False)
            return TokenReply(RequestType.ISSUE, context, Reply(envelope(reply.leg.body, addressing, soap), soap))
        except ServerTooBusy as error:
            return self.fault(error, soap, relates_to)
        except FailedAuthentication as error:
            return self.fault(TrustFailedAuthentication(error.detail), soap, relates_to)
        except WsscError as error:
            return self.fault(InvalidRequest(error.detail), soap, relates_to)

    def fault(self, error: WsscError, soap: SOAPVersion, relates_to: str | None = None) -> FaultReply:
        """WCF's negotiation faults carry the Feb 2005 trust namespace in both versions, WS-Addressing's fault
        action and the leg's MessageID as RelatesTo (section 7)."""
        _log.info("negotiation refused: %s (%s)", error.prefixed_code, error.detail)
        data = fault_envelope(error, soap, SC_2005_02, relates_to=relates_to)
        return FaultReply(error, Reply(data, soap, 500))

    def _store(self, negotiated: Negotiated) -> SecurityContext:
        claims = (*self.negotiator.claims(negotiated.mechanism), Claim(NEGOTIATED, self.negotiator.bootstrap))
        lifetime = negotiated.lifetime
        assert lifetime is not None and lifetime.created is not None and lifetime.expires is not None
        token = negotiated.token
        context = SecurityContext(
            token.identifier,
            negotiated.key,
            lifetime.created,
            lifetime.expires,
            negotiated.version,
            None,
            claims,
            (),
            token,
        )
        try:
            self.store.add(context, self.clock())
        except StoreFull:
            raise ServerTooBusy("the service holds as many security contexts as it may") from None
        except KeyError:
            raise InvalidRequest("a context with this Identifier exists already") from None
        if self.on_new_key is not None:
            self.on_new_key(context)
        return context


def _server_context(
    certificate: x509.Certificate,
    private_key: rsa.RSAPrivateKey,
    chain: Sequence[x509.Certificate],
    client_trust: CertificateTrust | None,
) -> ssl.SSLContext:
    """The TLS server context for the service certificate; with ``client_trust`` it requests a client certificate
    from the handshake, trusting its anchors and peers (OpenSSL checks the chain; ``client_trust`` again after)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    load_key_pair(context, certificate, private_key, chain)
    context.options |= ssl.OP_NO_TICKET
    context.num_tickets = 0
    if client_trust is not None:
        trusted = (*client_trust.anchors, *client_trust.peers)
        if not trusted:
            raise ValueError("client_trust names no certificate to request client certificates with")
        context.load_verify_locations(cadata=pem_bundle(trusted))
        context.verify_mode = ssl.CERT_REQUIRED
    return context
