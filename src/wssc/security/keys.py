"""Where keys come from: the sender's protection token and the receiver's key resolver.

A :class:`ProtectionToken` is the base secret of a symmetric binding (WS-SP 1.2 section 7.4) together with
how messages carry or reference it.  A :class:`KeyResolver` answers the receiver's questions: the key of a
context (by Identifier and Instance), the private key that opens an EncryptedKey, a key known by its
EncryptedKeySHA1.  Unknown contexts are ``wsc:BadContextToken`` (WS-SC 1.3 section 9).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.errors import BadContextToken, RenewNeeded, SecurityTokenUnavailable
from wssc.primitives.xml import Element
from wssc.tokens import reference as strs
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.reference import SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.x509 import matches
from wssc.versions import SCVersion

SCTReferenceStyle = Literal["local", "identifier", "external"]


class ProtectionToken(Protocol):
    """The base secret a sender derives from, and how the message carries it."""

    @property
    def secret(self) -> bytes: ...

    @property
    def context(self) -> SecurityContextToken | None: ...

    def header_token(self, parent: Element) -> Element | None:
        """Append the token element to wsse:Security ``parent`` (nothing when referenced externally)."""

    def reference(self, version: SCVersion) -> SecurityTokenReference:
        """How derived keys and KeyInfo refer to the token."""


@dataclass(frozen=True, eq=False)
class ContextProtection:
    """A security context as protection token: the SCT and its key (WS-SC 1.3 section 3).

    ``style``: ``local`` puts the SCT in the header and references it by ``#wsu:Id`` (WCF requests);
    ``identifier`` puts it in the header but references it by Identifier; ``external`` leaves it out
    and references it by Identifier (WCF responses, ``sp:RequireExternalUriReference``).
    """

    sct: SecurityContextToken
    key: bytes = field(repr=False)
    style: SCTReferenceStyle = "local"

    @property
    def secret(self) -> bytes:
        return self.key

    @property
    def context(self) -> SecurityContextToken | None:
        return self.sct

    def header_token(self, parent: Element) -> Element | None:
        if self.style == "external":
            return None
        return self.sct.to_element(parent)

    def reference(self, version: SCVersion) -> SecurityTokenReference:
        if self.style == "local":
            if not self.sct.wsu_id:
                raise ValueError("a local SCT reference needs the SCT to have a wsu:Id")
            return strs.local(self.sct.wsu_id, self.sct.version.sct_token_type)
        return strs.external_sct(self.sct.identifier, self.sct.version, self.sct.instance)


@dataclass(frozen=True, eq=False)
class EncryptedKeyProtection:
    """An EncryptedKey as protection token (WCF's symmetric bootstrap bindings).

    ``include=True`` sends the EncryptedKey (requests); ``False`` refers to it by EncryptedKeySHA1
    (responses, WSS 1.1 section 7.3).
    """

    encrypted_key: EncryptedKey
    key: bytes = field(repr=False)
    include: bool = True

    @property
    def secret(self) -> bytes:
        return self.key

    @property
    def context(self) -> SecurityContextToken | None:
        return None

    def header_token(self, parent: Element) -> Element | None:
        return self.encrypted_key.to_element(parent) if self.include else None

    def reference(self, version: SCVersion) -> SecurityTokenReference:
        if self.include and self.encrypted_key.element_id:
            return strs.local(self.encrypted_key.element_id, None)
        return self.encrypted_key.sha1_reference()


@dataclass(frozen=True, eq=False)
class ReferencedKeyProtection:
    """A key both parties already hold, referenced and not carried: a responder answering under the
    requestor's EncryptedKey (``KeyIdentifier ValueType=#EncryptedKeySHA1``, WSS 1.1 section 7.3)."""

    key: bytes = field(repr=False)
    token_reference: SecurityTokenReference

    @property
    def secret(self) -> bytes:
        return self.key

    @property
    def context(self) -> SecurityContextToken | None:
        return None

    def header_token(self, parent: Element) -> Element | None:
        return None

    def reference(self, version: SCVersion) -> SecurityTokenReference:
        return self.token_reference


class ExpiredContextKey(RenewNeeded):
    """A resolver's answer for an expired context it still remembers: ``wsc:RenewNeeded``, with the key, so
    that the receiver tells only a sender who proves that key (WS-SC 1.3 section 9); anyone else gets the
    fault a live context would give them (the context's state is no oracle)."""

    def __init__(self, detail: str, key: bytes) -> None:
        super().__init__(detail)
        self.key = key

    def __repr__(self) -> str:
        return f"ExpiredContextKey({self.detail!r})"


class KeyResolver(Protocol):
    """The receiver's source of keys."""

    def context_key(self, identifier: str, instance: str | None) -> bytes:
        """The key of a live context instance; raise :class:`BadContextToken` when there is none, or
        :class:`ExpiredContextKey` for an expired one."""

    def private_key_for(self, reference: SecurityTokenReference | None) -> rsa.RSAPrivateKey:
        """The private key an EncryptedKey names; raise :class:`SecurityTokenUnavailable` when not ours."""

    def encrypted_key_by_sha1(self, sha1: bytes) -> bytes:
        """A key this party transported earlier, by EncryptedKeySHA1 (responses to our requests)."""

    def certificate_for(self, reference: SecurityTokenReference) -> x509.Certificate:
        """An X.509 certificate known out of band, by thumbprint, SKI or issuer-serial."""


class StaticKeys:
    """A fixed set of keys: context keys by Identifier (optionally per Instance), certificates with their
    private keys, keys transported earlier (by EncryptedKeySHA1).

    Enough for tests, the CLI and simple services; the conversation layer supplies a store-backed resolver.
    """

    def __init__(
        self,
        contexts: Mapping[str, bytes] | None = None,
        *,
        instances: Mapping[tuple[str, str | None], bytes] | None = None,
        key_pairs: Sequence[tuple[x509.Certificate, rsa.RSAPrivateKey]] = (),
        certificates: Sequence[x509.Certificate] = (),
        encrypted_keys: Mapping[bytes, bytes] | None = None,
        dangerous_any_context_key: bytes | None = None,
    ) -> None:
        self._contexts = dict(contexts or {})
        self._instances = dict(instances or {})
        self._key_pairs = tuple(key_pairs)
        self._certificates = tuple(certificates) + tuple(cert for cert, _ in key_pairs)
        self._encrypted_keys = dict(encrypted_keys or {})
        # Accepts every context Identifier with one key: for command-line tools and tests only.
        self._any = dangerous_any_context_key

    def context_key(self, identifier: str, instance: str | None) -> bytes:
        key = self._instances.get((identifier, instance))
        if key is None:
            key = self._contexts.get(identifier, self._any)
        if key is None:
            raise BadContextToken(f"unknown context {identifier!r}")
        return key

    def private_key_for(self, reference: SecurityTokenReference | None) -> rsa.RSAPrivateKey:
        for cert, key in self._key_pairs:
            if reference is None or matches(cert, reference):
                return key
        raise SecurityTokenUnavailable("no private key for that EncryptedKey")

    def encrypted_key_by_sha1(self, sha1: bytes) -> bytes:
        for known, key in self._encrypted_keys.items():
            if hmac.compare_digest(known, sha1):
                return key
        raise SecurityTokenUnavailable("unknown EncryptedKeySHA1")

    def certificate_for(self, reference: SecurityTokenReference) -> x509.Certificate:
        for cert in self._certificates:
            if matches(cert, reference):
                return cert
        raise SecurityTokenUnavailable("unknown certificate")
