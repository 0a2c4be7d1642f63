"""A client configured from the policy an endpoint publishes (WS-SP 1.2 sections 7 and 10; SPEC-NOTES section 11).

WCF's ``wsHttpBinding`` with ``establishSecurityContext=true`` publishes a SymmetricBinding protected by a
SecureConversationToken whose ``sp:BootstrapPolicy`` says how the context is obtained; the bootstrap decides
wssc's :class:`~wssc.conversation.bootstrap.Bootstrap`:

- symmetric binding over the service's X.509 token: AnonymousForCertificate, UserNameForCertificate with a
  signed-encrypted UsernameToken, or a client certificate as endorsing token (``negotiateServiceCredential=false``);
- asymmetric binding with an initiator X.509 token: MutualCertificate;
- a TransportBinding carrying the SecureConversationToken as endorsing token: TransportWithMessageCredential;
- a SpnegoContextToken or SslContextToken: SPNEGO/TLSNEGO negotiation, not implemented: refused by name.

The service certificate comes from the caller or from the WSDL (WCF publishes it in the port's endpoint
identity); user names and client certificates come from the caller.  Whatever the policy asks that wssc
cannot do is a :class:`~wssc.policy.ws_policy.PolicyError`, never a silently weaker client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.bootstrap import Bootstrap, ClientBootstrap, MutualCertificateBootstrap, TransportBootstrap
from wssc.policy.security_policy import BindingKind, SecurityPolicy, SupportingCategory, TokenKind
from wssc.policy.ws_policy import PolicyError
from wssc.security.policy import ProtectionPolicy
from wssc.security.soap import SOAP12, SOAPVersion
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3, SCVersion

_NEGOTIATED = {TokenKind.SPNEGO_CONTEXT: "SPNEGO", TokenKind.SSL_CONTEXT: "TLSNEGO"}
_ENDORSING_CATEGORIES = frozenset({SupportingCategory.ENDORSING, SupportingCategory.SIGNED_ENDORSING})
_USERNAME_CATEGORIES = frozenset(
    {SupportingCategory.SIGNED_ENCRYPTED, SupportingCategory.SIGNED, SupportingCategory.SUPPORTING}
)


@dataclass(frozen=True)
class ClientCredentials:
    """What the caller brings: a user name, a client certificate, or the service certificate to pin
    (which then wins over the one the WSDL publishes)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    certificate: x509.Certificate | None = None
    private_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    service_certificate: x509.Certificate | None = None


@dataclass(frozen=True)
class ClientConfiguration:
    """Keyword arguments of :class:`~wssc.conversation.client.ClientSession` (and the HTTP clients)."""

    bootstrap: Bootstrap
    version: SCVersion
    soap: SOAPVersion
    policy: ProtectionPolicy
    entropy_mode: EntropyMode
    establish_security_context: bool
    must_not_send_cancel: bool
    over_tls: bool


def _uses_username(policy: SecurityPolicy) -> bool:
    return any(
        group.category in _USERNAME_CATEGORIES and any(t.kind is TokenKind.USERNAME for t in group.tokens)
        for group in policy.supporting
    )


def _endorses_with_certificate(policy: SecurityPolicy) -> bool:
    return any(
        group.category in _ENDORSING_CATEGORIES and any(t.kind is TokenKind.X509 for t in group.tokens)
        for group in policy.supporting
    )


def _refuse_negotiation(policy: SecurityPolicy, where: str) -> None:
    for _, token in policy.all_tokens():
        if token.kind in _NEGOTIATED:
            raise PolicyError(f"{where}: {_NEGOTIATED[token.kind]} negotiation is not implemented")


def _service_certificate(published: x509.Certificate | None, credentials: ClientCredentials) -> x509.Certificate:
    certificate = credentials.service_certificate or published
    if certificate is None:
        raise PolicyError("the binding encrypts to the service certificate: pass it, or use a WSDL publishing it")
    return certificate


def _bootstrap(
    bootstrap: SecurityPolicy, published: x509.Certificate | None, credentials: ClientCredentials
) -> Bootstrap:
    """The bootstrap binding that obtains the context (WS-SP 1.2 section 10.1, ``sp:BootstrapPolicy``)."""
    _refuse_negotiation(bootstrap, "bootstrap policy")
    messages = bootstrap.protection_policy()
    confirm = bootstrap.wss11 is not None and "RequireSignatureConfirmation" in bootstrap.wss11
    if bootstrap.binding is BindingKind.ASYMMETRIC:
        if credentials.certificate is None or credentials.private_key is None:
            raise PolicyError("the bootstrap is MutualCertificate: a client certificate and key are needed")
        certificate = _service_certificate(published, credentials)
        return MutualCertificateBootstrap(
            certificate,
            credentials.certificate,
            credentials.private_key,
            messages,
            require_signature_confirmation=confirm,
        )
    if bootstrap.binding is not BindingKind.SYMMETRIC:
        raise PolicyError(f"a {bootstrap.binding} bootstrap is not supported")
    token = bootstrap.protection_token
    if token is None or token.kind is not TokenKind.X509:
        raise PolicyError("the bootstrap's protection token is not the service's X.509 certificate")
    certificate = _service_certificate(published, credentials)
    if _endorses_with_certificate(bootstrap):
        if credentials.certificate is None or credentials.private_key is None:
            raise PolicyError("the bootstrap is endorsed by a client certificate: a certificate and key are needed")
        return ClientBootstrap(
            certificate,
            policy=messages,
            client_certificate=credentials.certificate,
            client_key=credentials.private_key,
            require_signature_confirmation=confirm,
        )
    if _uses_username(bootstrap):
        if credentials.username is None:
            raise PolicyError("the bootstrap carries a UsernameToken: a user name and password are needed")
        return ClientBootstrap(
            certificate, credentials.username, credentials.password, messages, require_signature_confirmation=confirm
        )
    return ClientBootstrap(certificate, policy=messages, require_signature_confirmation=confirm)


def configure_client(
    policy: SecurityPolicy,
    *,
    soap: SOAPVersion | None = None,
    published_certificate: x509.Certificate | None = None,
    credentials: ClientCredentials | None = None,
) -> ClientConfiguration:
    """The client an endpoint's policy alternative calls for (see the module documentation)."""
    credentials = credentials or ClientCredentials()
    soap = soap or SOAP12
    context = policy.context_token()
    if context is not None and context.kind in _NEGOTIATED:
        method = _NEGOTIATED[context.kind]
        raise PolicyError(f"the endpoint's context is obtained by {method} negotiation (not implemented)")
    version = policy.sc_version() or SC_1_3
    entropy = policy.entropy_mode()
    if policy.binding is BindingKind.TRANSPORT:
        if context is None:
            raise PolicyError("a transport binding without a security context: plain HTTPS, nothing for wssc to do")
        if context.bootstrap is not None:
            _refuse_negotiation(context.bootstrap, "bootstrap policy")
        username = context.bootstrap is not None and _uses_username(context.bootstrap)
        if username and credentials.username is None:
            raise PolicyError("the bootstrap carries a UsernameToken: a user name and password are needed")
        bootstrap: Bootstrap = TransportBootstrap(
            credentials.service_certificate or published_certificate,
            credentials.username if username else None,
            credentials.password if username else None,
        )
        return ClientConfiguration(
            bootstrap, version, soap, policy.protection_policy(), entropy, True, context.must_not_send_cancel, True
        )
    if policy.binding is not BindingKind.SYMMETRIC:
        raise PolicyError(f"a {policy.binding} binding as the endpoint's binding is not supported")
    token = policy.protection_token
    if token is not None and token.kind is TokenKind.SECURE_CONVERSATION:
        if token.bootstrap is None:
            raise PolicyError("the SecureConversationToken has no BootstrapPolicy to obtain the context with")
        bootstrap = _bootstrap(token.bootstrap, published_certificate, credentials)
        cancel = token.must_not_send_cancel
        return ClientConfiguration(bootstrap, version, soap, policy.protection_policy(), entropy, True, cancel, False)
    # No context (WCF establishSecurityContext=false): every message goes under the bootstrap binding itself.
    bootstrap = _bootstrap(policy, published_certificate, credentials)
    return ClientConfiguration(bootstrap, version, soap, policy.protection_policy(), entropy, False, True, False)
