"""What verification returns: only what was verified (the signxml model).

Application code reads the Body, headers and claims from a :class:`VerifiedMessage`, never from the raw
envelope, so a signature-wrapping attack has nothing to substitute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509
from lxml import etree

from wssc.primitives.xml import Element, serialize
from wssc.security.dsig import VerifiedSignature
from wssc.security.soap import SOAPVersion
from wssc.security.timestamp import Timestamp
from wssc.tokens.username import UsernameToken
from wssc.versions import SCVersion


@dataclass(frozen=True)
class ContextRef:
    """The security context a message was protected with (WS-SC 1.3 section 3)."""

    identifier: str
    instance: str | None
    version: SCVersion | None


@dataclass(frozen=True)
class KeyOrigin:
    """Where a signing or decryption key came from."""

    #: "context", "encrypted-key" or "x509"
    kind: str
    context: ContextRef | None = None
    derived: bool = False
    #: the secret of the base token, for a responder that must answer under the same key (never logged)
    base_secret: bytes | None = field(default=None, repr=False)
    #: EncryptedKeySHA1 of the base token, when it is an EncryptedKey
    encrypted_key_sha1: bytes | None = None
    #: the certificate whose key signed, for X.509 signatures (endorsing tokens, Amend)
    certificate: x509.Certificate | None = None


@dataclass(frozen=True)
class SupportingToken:
    """A UsernameToken found in the header, with how it was protected (the caller checks the password)."""

    token: UsernameToken
    signed: bool
    encrypted: bool


@dataclass(frozen=True)
class VerifiedMessage:
    envelope: Element
    soap: SOAPVersion
    header: Element | None
    #: the SOAP Body, decrypted, and signed when the requirements said so
    body: Element
    context: ContextRef | None
    #: elements covered by the primary signature, in reference order
    signed: tuple[Element, ...]
    #: elements whose content (Body) or self (headers, signature) was decrypted
    encrypted: tuple[Element, ...]
    algorithms: Mapping[str, str]
    timestamp: Timestamp | None
    signature: VerifiedSignature | None
    signature_key: KeyOrigin | None
    endorsing: tuple[tuple[VerifiedSignature, KeyOrigin], ...] = ()
    signature_confirmations: tuple[bytes | None, ...] = ()
    username_tokens: tuple[SupportingToken, ...] = ()
    #: wsu:Id -> Identifier of the SCTs the Security header carried (for ``#id`` references in the Body)
    header_contexts: Mapping[str, str] = field(default_factory=dict)

    @property
    def signature_value(self) -> bytes | None:
        return None if self.signature is None else self.signature.value

    def is_signed(self, element: Element) -> bool:
        return any(element is e for e in self.signed)

    def is_encrypted(self, element: Element) -> bool:
        return any(element is e for e in self.encrypted)

    @property
    def signed_names(self) -> list[str]:
        return [etree.QName(e).localname for e in self.signed]

    @property
    def encrypted_names(self) -> list[str]:
        return [etree.QName(e).localname for e in self.encrypted]

    def payload(self) -> list[Element]:
        """The Body's child elements."""
        return [c for c in self.body if isinstance(c.tag, str)]

    def to_bytes(self) -> bytes:
        """The plain envelope, with the Security header removed."""
        return serialize(self.envelope)
