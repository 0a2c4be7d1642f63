"""Bootstrap bindings: how the RST/RSTR exchange that establishes a context is protected (WS-SP 1.2
section 10.1, ``sp:BootstrapPolicy``), named as WCF and CXF name them.

AnonymousForCertificate and UserNameForCertificate are WCF's symmetric bindings over an EncryptedKey to the
service certificate: the client transports a fresh key (RSA-OAEP), derives signature and encryption keys
from it, encrypts the signature, and (UserName) sends a signed and encrypted UsernameToken; the service
answers under the same key, referenced by EncryptedKeySHA1, and confirms the request's signature value
(WSS 1.1 section 8.5, SignatureConfirmation).  The same binding protects ordinary application messages
when a service runs without secure conversation (WCF ``establishSecurityContext=false``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc import namespaces as ns
from wssc.conversation.context import Claim
from wssc.errors import FailedAuthentication, InvalidSecurity
from wssc.security.keys import EncryptedKeyProtection, ProtectionToken, ReferencedKeyProtection, StaticKeys
from wssc.security.policy import TRANSPORT_REQUIREMENTS, ProtectionPolicy, Requirements
from wssc.security.protect import AsymmetricSigner, EndorsingToken, add_transport_header, protect
from wssc.security.result import VerifiedMessage
from wssc.security.unprotect import Receiver
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.reference import KeyIdentifier, SecurityTokenReference
from wssc.tokens.username import UsernameToken
from wssc.tokens.x509 import X509Token
from wssc.tokens.x509_trust import CertificateTrust
from wssc.versions import SCVersion

ANONYMOUS_FOR_CERTIFICATE = "anonymous-for-certificate"
MUTUAL_CERTIFICATE = "mutual-certificate"
USERNAME_FOR_CERTIFICATE = "username-for-certificate"
#: the symmetric bootstrap endorsed by a client certificate (WCF wsHttpBinding, Message security, Certificate
#: credential, negotiateServiceCredential=false)
CERTIFICATE_FOR_CERTIFICATE = "certificate-for-certificate"
#: the message-security bootstraps a service can publish and demand (``ServiceSettings.bootstrap``)
BOOTSTRAP_NAMES = (ANONYMOUS_FOR_CERTIFICATE, USERNAME_FOR_CERTIFICATE, CERTIFICATE_FOR_CERTIFICATE, MUTUAL_CERTIFICATE)


@dataclass(frozen=True)
class ServiceCredentials:
    """The service certificate and key; ``users`` (name -> password) turns on UserNameForCertificate."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey = field(repr=False)
    users: Mapping[str, str] | None = field(default=None, repr=False)
    #: the client certificates believed: MutualCertificate clients, Amend endorsers, creators of propagated
    #: contexts (None: any certificate whose signature verifies, WCF's ``X509CertificateValidationMode.None``;
    #: the claim then names a key holder, not an identity)
    client_trust: CertificateTrust | None = None

    def _certificate_client(self, certificate: x509.Certificate, now: datetime) -> tuple[Claim, ...]:
        """A client authenticated by its certificate (MutualCertificate, or an endorsed symmetric bootstrap).

        A service that authenticates by user name and trusts no certificates takes no certificate clients:
        a self-made certificate must not stand in for a password."""
        if self.client_trust is None and self.users is not None:
            raise FailedAuthentication("this service authenticates clients by user name")
        return (self.certificate_claim(certificate, now), Claim("authentication", "certificate"))

    def certificate_claim(self, certificate: x509.Certificate, now: datetime, issuer: str = "self") -> Claim:
        """The ``x509`` claim for a certificate whose key signed the message, once ``client_trust`` accepts it."""
        if self.client_trust is not None:
            self.client_trust.check(certificate, now)
        return Claim("x509", certificate.subject.rfc4514_string(), issuer)

    def response_security(
        self, message: VerifiedMessage, policy: ProtectionPolicy
    ) -> tuple[ProtectionToken, AsymmetricSigner | None]:
        """How to answer a bootstrap-protected request: under the client's EncryptedKey (symmetric
        bootstrap), or signed with our key and encrypted to the client's certificate (MutualCertificate),
        the key transported with ``policy``'s suite."""
        origin = message.signature_key
        if origin is not None and origin.kind == "x509" and origin.certificate is not None:
            encrypted_key, secret = _key_for(origin.certificate, policy, None)
            signer = AsymmetricSigner(self.private_key, X509Token(self.certificate).reference("thumbprint"))
            return EncryptedKeyProtection(encrypted_key, secret), signer
        return response_protection(message), None

    def private_key_for(self, reference: SecurityTokenReference | None) -> rsa.RSAPrivateKey:
        """Our private key, when ``reference`` names our certificate (or names nothing)."""
        return self.resolver().private_key_for(reference)

    def resolver(self) -> StaticKeys:
        return StaticKeys(key_pairs=[(self.certificate, self.private_key)])

    def authenticate(
        self, message: VerifiedMessage, now: datetime, *, over_tls: bool = False, bootstrap: str | None = None
    ) -> tuple[Claim, ...]:
        """The claims a bootstrap message proves: a trusted client certificate, a verified user name, or
        an anonymous client.

        ``over_tls``: the UsernameToken travelled in clear inside HTTPS (TransportWithMessageCredential)
        rather than signed and encrypted by the message.  ``bootstrap``: the binding the service publishes
        (:func:`require_bootstrap`); None takes every client these credentials can authenticate."""
        if bootstrap is not None:
            require_bootstrap(message, bootstrap)
        origin = message.signature_key
        if origin is not None and origin.kind == "x509" and origin.certificate is not None:
            return self._certificate_client(origin.certificate, now)
        endorsers = [o.certificate for _, o in message.endorsing if o.certificate is not None]
        if endorsers and not message.username_tokens:
            return self._certificate_client(endorsers[0], now)
        if self.users is None:
            return (Claim("authentication", "anonymous"),)
        protected = [t for t in message.username_tokens if over_tls or (t.signed and t.encrypted)]
        if len(protected) != 1 or len(message.username_tokens) != 1:
            raise FailedAuthentication("exactly one signed and encrypted UsernameToken is required")
        token = protected[0].token
        expected = self.users.get(token.username)
        if expected is None:
            # Compare anyway so an unknown name costs what a wrong password costs.
            hmac.compare_digest(b"x" * 16, b"y" * 16)
            raise FailedAuthentication("wrong username or password")
        token.verify(expected)
        return (Claim("name", token.username), Claim("authentication", "password"))


def presented_bootstrap(message: VerifiedMessage) -> str:
    """The bootstrap binding a verified request used, by the credential that authenticates it: signed with a
    client certificate (MutualCertificate), endorsed by one (the symmetric binding's endorsing X.509 token),
    carrying a UsernameToken (UserNameForCertificate), or none of these (AnonymousForCertificate)."""
    origin = message.signature_key
    if origin is not None and origin.kind == "x509":
        return MUTUAL_CERTIFICATE
    if any(o.certificate is not None for _, o in message.endorsing):
        return CERTIFICATE_FOR_CERTIFICATE
    return USERNAME_FOR_CERTIFICATE if message.username_tokens else ANONYMOUS_FOR_CERTIFICATE


def require_bootstrap(message: VerifiedMessage, published: str) -> None:
    """Refuse a request whose credential is not the one the ``published`` bootstrap policy names.

    An AnonymousForCertificate service asks for no credential and takes any.  Every other binding demands
    its own: a MutualCertificate service refuses anonymous, username and endorsed-symmetric clients, a
    UserNameForCertificate service refuses clients without a UsernameToken, a certificate-endorsed service
    refuses unendorsed ones.  The fault is ``wsse:InvalidSecurity``, as WCF answers a message that lacks a
    token its policy requires: the missing supporting token (or the other binding) is a
    ``MessageSecurityException`` in WCF's ``ReceiveSecurityHeader``, which ``SecurityUtils.
    CreateSecurityMessageFault`` turns into InvalidSecurity, "An error occurred when verifying security for
    the message"; only a credential that is present and fails validation (``SecurityTokenValidationException``:
    a wrong password, an untrusted certificate) is ``wsse:FailedAuthentication``."""
    if published == ANONYMOUS_FOR_CERTIFICATE:
        return
    presented = presented_bootstrap(message)
    if presented != published:
        raise InvalidSecurity(f"the service's policy demands the {published} bootstrap, not {presented}")


class ResponseCheck(Protocol):
    """How a client verifies the response to a request its bootstrap binding protected."""

    def unprotect(self, data: bytes, requirements: Requirements, now: datetime | None = None) -> VerifiedMessage: ...


class Bootstrap(Protocol):
    """A client's bootstrap binding: :class:`ClientBootstrap` (message security) or :class:`TransportBootstrap`."""

    @property
    def service_certificate(self) -> x509.Certificate | None: ...

    def protect(
        self,
        envelope: bytes,
        version: SCVersion,
        now: datetime | None = None,
        endorsing: tuple[EndorsingToken, ...] = (),
    ) -> tuple[bytes, ResponseCheck]: ...


@dataclass(frozen=True)
class PendingBootstrap:
    """What the client must remember to check the response to a bootstrap-protected request."""

    encrypted_key_sha1: bytes
    secret: bytes = field(repr=False)
    signature_value: bytes | None

    def unprotect(self, data: bytes, requirements: Requirements, now: datetime | None = None) -> VerifiedMessage:
        """Verify a response under our EncryptedKey and its confirmation of our signature."""
        receiver = Receiver(StaticKeys(encrypted_keys={self.encrypted_key_sha1: self.secret}), requirements)
        verified = receiver.unprotect(data, now=now)
        origin = verified.signature_key
        if origin is None or origin.encrypted_key_sha1 != self.encrypted_key_sha1:
            raise InvalidSecurity("the response is not signed with the key of our request")
        _check_confirmation(verified, self.signature_value)
        return verified


def _check_confirmation(verified: VerifiedMessage, signature_value: bytes | None) -> None:
    """The response confirms our request's signature value (WSS 1.1 section 8.5); None: nothing to confirm."""
    if signature_value is not None and not any(
        c is not None and hmac.compare_digest(c, signature_value) for c in verified.signature_confirmations
    ):
        raise InvalidSecurity("the response does not confirm our request's signature")


def _key_for(
    service_certificate: x509.Certificate, policy: ProtectionPolicy, key_transport: str | None
) -> tuple[EncryptedKey, bytes]:
    """A fresh key for one message, transported to the service certificate (referenced by thumbprint) with
    the suite's asymmetric key wrap (RSA-OAEP, or RSA 1.5 for the ``...Rsa15`` suites) unless overridden."""
    reference = X509Token(service_certificate).reference("thumbprint")
    length = max(policy.suite.encryption_key_length, policy.suite.signature_key_length)
    algorithm = key_transport or policy.suite.asymmetric_key_wrap
    return EncryptedKey.create(service_certificate, reference, length=length, algorithm=algorithm)


@dataclass(frozen=True)
class ClientBootstrap:
    """AnonymousForCertificate; UserNameForCertificate when ``username`` is set; with a client certificate
    and key, WCF's certificate client over the symmetric binding (``wsHttpBinding`` Message/Certificate without
    negotiation: the client's X.509 token endorses every bootstrap message, WS-SP 1.2 section 8.3)."""

    service_certificate: x509.Certificate
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    policy: ProtectionPolicy = field(default_factory=ProtectionPolicy)
    #: None: the suite's asymmetric key wrap
    key_transport: str | None = None
    client_certificate: x509.Certificate | None = None
    client_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    #: demand that the response confirm our signature (WSS 1.1 section 8.5, ``sp:RequireSignatureConfirmation``;
    #: WCF's defaults send it, a policy without the assertion does not)
    require_signature_confirmation: bool = True

    def __post_init__(self) -> None:
        if (self.client_certificate is None) != (self.client_key is None):
            raise ValueError("a client certificate and its private key go together")

    @property
    def name(self) -> str:
        if self.client_certificate is not None:
            return CERTIFICATE_FOR_CERTIFICATE
        return USERNAME_FOR_CERTIFICATE if self.username is not None else ANONYMOUS_FOR_CERTIFICATE

    def protect(
        self,
        envelope: bytes,
        version: SCVersion,
        now: datetime | None = None,
        endorsing: tuple[EndorsingToken, ...] = (),
    ) -> tuple[bytes, PendingBootstrap]:
        encrypted_key, secret = _key_for(self.service_certificate, self.policy, self.key_transport)
        supporting = username_supporting(self.username, self.password)
        if self.client_certificate is not None and self.client_key is not None:
            method = self.policy.suite.asymmetric_signature
            endorsing = (EndorsingToken.x509(self.client_certificate, self.client_key, method), *endorsing)
        protected = protect(
            envelope,
            EncryptedKeyProtection(encrypted_key, secret),
            self.policy,
            version=version,
            now=now,
            supporting_tokens=supporting,
            endorsing=endorsing,
        )
        confirm = protected.signature_value if self.require_signature_confirmation else None
        return protected.data, PendingBootstrap(encrypted_key.sha1, secret, confirm)


@dataclass(frozen=True)
class PendingMutual:
    """The client's check of a MutualCertificate response: signed by the service certificate, encrypted to
    ours, confirming our signature."""

    client_certificate: x509.Certificate
    client_key: rsa.RSAPrivateKey = field(repr=False)
    service_certificate: x509.Certificate
    signature_value: bytes | None

    def unprotect(self, data: bytes, requirements: Requirements, now: datetime | None = None) -> VerifiedMessage:
        keys = StaticKeys(
            key_pairs=[(self.client_certificate, self.client_key)], certificates=[self.service_certificate]
        )
        verified = Receiver(keys, requirements).unprotect(data, now=now)
        origin = verified.signature_key
        if origin is None or origin.certificate is None or origin.certificate != self.service_certificate:
            raise InvalidSecurity("the response is not signed by the service certificate")
        _check_confirmation(verified, self.signature_value)
        return verified


@dataclass(frozen=True)
class MutualCertificateBootstrap:
    """MutualCertificate (WS-SP 1.2 asymmetric binding): the client signs with its certificate's key and
    encrypts to the service certificate; the service answers signed with its key, encrypted to the client."""

    service_certificate: x509.Certificate
    client_certificate: x509.Certificate
    client_key: rsa.RSAPrivateKey = field(repr=False)
    policy: ProtectionPolicy = field(default_factory=ProtectionPolicy)
    #: None: the suite's asymmetric key wrap
    key_transport: str | None = None
    #: as :attr:`ClientBootstrap.require_signature_confirmation`
    require_signature_confirmation: bool = True

    @property
    def name(self) -> str:
        return MUTUAL_CERTIFICATE

    def protect(
        self,
        envelope: bytes,
        version: SCVersion,
        now: datetime | None = None,
        endorsing: tuple[EndorsingToken, ...] = (),
    ) -> tuple[bytes, PendingMutual]:
        encrypted_key, secret = _key_for(self.service_certificate, self.policy, self.key_transport)
        token = X509Token.for_message(self.client_certificate)
        signer = AsymmetricSigner(self.client_key, token.reference("bst"), token.to_xml())
        protected = protect(
            envelope,
            EncryptedKeyProtection(encrypted_key, secret),
            self.policy,
            version=version,
            now=now,
            endorsing=endorsing,
            signer=signer,
        )
        pending = PendingMutual(
            self.client_certificate,
            self.client_key,
            self.service_certificate,
            protected.signature_value if self.require_signature_confirmation else None,
        )
        return protected.data, pending


@dataclass(frozen=True)
class PendingTransport:
    """The client's side of a TLS-protected bootstrap exchange: the response carries a Timestamp only."""

    def unprotect(self, data: bytes, requirements: Requirements, now: datetime | None = None) -> VerifiedMessage:
        receiver = Receiver(StaticKeys(), replace(TRANSPORT_REQUIREMENTS, detect_replays=False))
        return receiver.unprotect(data, now=now)


@dataclass(frozen=True)
class TransportBootstrap:
    """TransportWithMessageCredential: HTTPS protects the exchange; a UsernameToken (or nothing, when the
    TLS client certificate authenticates) rides in the Security header, as WCF and .NET Core clients send."""

    service_certificate: x509.Certificate | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return "transport-with-message-credential"

    def protect(
        self,
        envelope: bytes,
        version: SCVersion,
        now: datetime | None = None,
        endorsing: tuple[EndorsingToken, ...] = (),
    ) -> tuple[bytes, PendingTransport]:
        if endorsing:
            raise ValueError("endorsing signatures need a message-level bootstrap key")
        tokens = []
        if self.username is not None:
            tokens.append(UsernameToken.create(self.username, self.password or "").to_xml())
        return add_transport_header(envelope, now=now, supporting_tokens=tokens), PendingTransport()


def username_supporting(username: str | None, password: str | None) -> list[tuple[str, str]]:
    """The (wsu:Id, XML) of the UsernameToken a bootstrap message carries signed and encrypted (WS-SP 1.2
    section 8.4, ``SignedEncryptedSupportingTokens``), or nothing without a user name."""
    if username is None:
        return []
    token_id = "UsernameToken-" + secrets.token_hex(8)
    return [(token_id, UsernameToken.create(username, password or "", wsu_id=token_id).to_xml())]


def response_protection(message: VerifiedMessage) -> ReferencedKeyProtection:
    """The service's key for answering a bootstrap request: the client's EncryptedKey, by SHA-1."""
    origin = message.signature_key
    if origin is None or origin.kind != "encrypted-key" or origin.base_secret is None:
        raise InvalidSecurity("a bootstrap request must be signed with an EncryptedKey to the service")
    assert origin.encrypted_key_sha1 is not None
    reference = SecurityTokenReference(KeyIdentifier(ns.ENCRYPTED_KEY_SHA1, origin.encrypted_key_sha1))
    return ReferencedKeyProtection(origin.base_secret, reference)
