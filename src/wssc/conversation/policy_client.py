"""A client configured from the policy an endpoint publishes (WS-SP 1.2 sections 7 and 10; SPEC-NOTES section 11).

WCF's ``wsHttpBinding`` with ``establishSecurityContext=true`` publishes a SymmetricBinding protected by a
SecureConversationToken whose ``sp:BootstrapPolicy`` says how the context is obtained; the bootstrap decides
wssc's :class:`~wssc.conversation.bootstrap.Bootstrap`:

- symmetric binding over the service's X.509 token: AnonymousForCertificate, UserNameForCertificate with a
  signed-encrypted UsernameToken, or a client certificate as endorsing token (``negotiateServiceCredential=false``);
- asymmetric binding with an initiator X.509 token: MutualCertificate;
- a TransportBinding carrying the SecureConversationToken as endorsing token: TransportWithMessageCredential;
- a SpnegoContextToken or SslContextToken (as the bootstrap's protection token, WCF ``establishSecurityContext=
  true``, or the endpoint's): SPNEGO or TLSNEGO negotiation (:class:`~wssc.conversation.negotiating.
  NegotiatedBootstrap`): Windows credentials (the current Kerberos login, or ``DOMAIN\\user`` or a UPN with a
  password) aimed at the port's endpoint identity; or TLS with the service trusted by ``verify`` or pinned, a
  UsernameToken beside it (UserNameForSsl) or a client certificate in the handshake (MutualSsl).

The service certificate comes from the caller or from the WSDL (WCF publishes it in the port's endpoint
identity); user names and client certificates come from the caller.  Whatever the policy asks that wssc
cannot do is a :class:`~wssc.policy.ws_policy.PolicyError`, never a silently weaker client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from wssc import namespaces as ns
from wssc.conversation.bootstrap import Bootstrap, ClientBootstrap, MutualCertificateBootstrap, TransportBootstrap
from wssc.conversation.negotiating import NegotiatedBootstrap, spnego, tlsnego
from wssc.policy.kinds import SPNEGO_MECHANISM
from wssc.policy.security_policy import BindingKind, NegotiationPolicy, SecurityPolicy, SupportingCategory, TokenKind
from wssc.policy.ws_policy import PolicyError
from wssc.security.policy import ProtectionPolicy
from wssc.security.soap import SOAP12, SOAPVersion
from wssc.trust.entropy import EntropyMode
from wssc.trust.negotiation import NegotiationMechanism
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

_NEGOTIATED = {TokenKind.SPNEGO_CONTEXT: "SPNEGO", TokenKind.SSL_CONTEXT: "TLSNEGO"}
_ENDORSING_CATEGORIES = frozenset({SupportingCategory.ENDORSING, SupportingCategory.SIGNED_ENDORSING})
_USERNAME_CATEGORIES = frozenset(
    {SupportingCategory.SIGNED_ENCRYPTED, SupportingCategory.SIGNED, SupportingCategory.SUPPORTING}
)


@dataclass(frozen=True)
class ClientCredentials:
    """What the caller brings: a user name (for SPNEGO a Windows account, ``DOMAIN\\user`` or a UPN; none: the
    current Kerberos login), a client certificate, the service certificate to pin (which then wins over the one
    the WSDL publishes), and for negotiation: ``verify`` (TLSNEGO: True for the system's CA store, or a CA bundle
    file, as httpx), ``spn`` (SPNEGO's target, instead of the WSDL's identity), ``protocol`` (``negotiate``,
    ``kerberos`` or ``ntlm``) and ``allow_ntlm`` (WCF's AllowNtlm)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    certificate: x509.Certificate | None = None
    private_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    service_certificate: x509.Certificate | None = None
    verify: bool | str = True
    spn: str | None = None
    protocol: str = "negotiate"
    allow_ntlm: bool = True

    @classmethod
    def from_pkcs12(cls, path: str | Path, password: str | bytes | None = None, **fields: Any) -> ClientCredentials:
        """A client certificate and key from a PKCS#12 file (the ``.pfx`` a Windows administrator exports), with
        the other ``fields`` (``verify=``, ``service_certificate=``...)."""
        secret = password.encode() if isinstance(password, str) else password
        key, certificate, _ = pkcs12.load_key_and_certificates(Path(path).read_bytes(), secret)
        return cls(certificate=certificate, private_key=_rsa(key), **fields)

    @classmethod
    def from_pem(
        cls, certificate: str | Path, key: str | Path, password: str | bytes | None = None, **fields: Any
    ) -> ClientCredentials:
        """A client certificate and key from PEM files, with the other ``fields``."""
        secret = password.encode() if isinstance(password, str) else password
        loaded = serialization.load_pem_private_key(Path(key).read_bytes(), secret)
        return cls(
            certificate=x509.load_pem_x509_certificate(Path(certificate).read_bytes()),
            private_key=_rsa(loaded),
            **fields,
        )


def _rsa(key: object) -> rsa.RSAPrivateKey:
    """WS-Security's suites sign with RSA (WS-SP 1.2 section 6.1): other keys are refused here, not on the wire."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the client certificate's key must be an RSA key")
    return key


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


def _version_of_namespace(namespace: str | None) -> SCVersion:
    """Without a context token (WCF ``establishSecurityContext=false``) the SP namespace still tells the
    generation (derived keys, WS-Trust): SP 1.2 goes with WS-SC 1.3, SP 2005/07 with February 2005."""
    return SC_2005_02 if namespace == ns.SP11 else SC_1_3


def configure_client(
    policy: SecurityPolicy,
    *,
    soap: SOAPVersion | None = None,
    published_certificate: x509.Certificate | None = None,
    credentials: ClientCredentials | None = None,
    target: str | None = None,
) -> ClientConfiguration:
    """The client an endpoint's policy alternative calls for (see the module documentation).  ``target``: the
    SPNEGO target the port's endpoint identity names (:meth:`~wssc.policy.wsdl.PortInfo.target_name`)."""
    credentials = credentials or ClientCredentials()
    soap = soap or SOAP12
    negotiation = policy.negotiation()
    if negotiation is not None:
        return _negotiated(policy, negotiation, soap, published_certificate, credentials, target)
    context = policy.context_token()
    version = policy.sc_version() or _version_of_namespace(policy.binding_namespace)
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


def _negotiated(
    policy: SecurityPolicy,
    negotiation: NegotiationPolicy,
    soap: SOAPVersion,
    published: x509.Certificate | None,
    credentials: ClientCredentials,
    target: str | None,
) -> ClientConfiguration:
    """A client whose context is negotiated (NEGOTIATION.md; WCF's Windows, UserNameForSsl, MutualSsl and
    AnonymousForSsl credential types)."""
    if negotiation.over_transport:
        raise PolicyError("SPNEGO over HTTPS (TransportWithMessageCredential, Windows) is not supported")
    messages = negotiation.protection_policy()
    new_mechanism: Callable[[], NegotiationMechanism]
    username = password = None
    if negotiation.mechanism == SPNEGO_MECHANISM:
        name = credentials.spn or target
        if name is None:
            raise PolicyError("SPNEGO needs the service's principal: pass spn=, or use a WSDL naming its identity")
        new_mechanism = spnego(
            name,
            username=credentials.username,
            password=credentials.password,
            protocol=credentials.protocol,
            allow_ntlm=credentials.allow_ntlm,
        )
    else:
        if negotiation.require_client_certificate and (
            credentials.certificate is None or credentials.private_key is None
        ):
            raise PolicyError("the service negotiates TLS with a client certificate (MutualSsl): pass one and its key")
        if negotiation.username_supporting:
            if credentials.username is None:
                raise PolicyError(
                    "the service wants a UsernameToken beside TLSNEGO: a user name and password are needed"
                )
            username, password = credentials.username, credentials.password
        mutual = negotiation.require_client_certificate
        new_mechanism = tlsnego(
            verify=credentials.verify,
            service_certificate=credentials.service_certificate or published,
            client_certificate=credentials.certificate if mutual else None,
            client_key=credentials.private_key if mutual else None,
        )
    bootstrap = NegotiatedBootstrap(new_mechanism, username=username, password=password, policy=messages)
    version = negotiation.version
    establish = negotiation.establish_security_context
    context = policy.context_token()
    cancel = context.must_not_send_cancel if establish and context is not None else True
    return ClientConfiguration(
        bootstrap, version, soap, policy.protection_policy(), policy.entropy_mode(), establish, cancel, False
    )
