"""The keys the tokens of one ``wsse:Security`` header carry (WSS 1.1 section 7 token references; WS-SC 1.3
sections 3 and 7: contexts and derived keys; XML Encryption 3.5.1: EncryptedKey; X.509 Token Profile).

Every key is tagged with the token it comes from (:attr:`TokenKey.token`), so that the message can be bound
to one authenticating token (:mod:`wssc.security.unprotect`).  A context the resolver does not know is
checked with a random key and its state kept aside (:attr:`TokenKeys.context_states`), so that nobody learns
it before proving the context's key.  The EncryptedKey passes its cheap checks (how many, which key
transport, which certificate reference) before its RSA operation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc import namespaces as ns
from wssc.errors import (
    BadContextToken,
    InvalidSecurity,
    InvalidSecurityToken,
    RenewNeeded,
    SecurityTokenUnavailable,
    UnknownDerivationSource,
    UnsupportedAlgorithm,
    UnsupportedSecurityToken,
)
from wssc.limits import Limits
from wssc.primitives.xml import Element
from wssc.security.keys import ExpiredContextKey, KeyResolver
from wssc.security.policy import Requirements
from wssc.security.result import ContextRef, KeyOrigin
from wssc.tokens.dkt import DerivedKeyToken, implied
from wssc.tokens.encrypted_key import EK_TAG, EncryptedKey
from wssc.tokens.reference import IssuerSerial, KeyIdentifier, Reference, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.x509 import BST_TAG, X509Token, rsa_public_key
from wssc.versions import VERSIONS, SCVersion, by_sc_namespace

SCT_TAGS = frozenset(v.sc_qname("SecurityContextToken") for v in VERSIONS)
DKT_TAGS = frozenset(v.sc_qname("DerivedKeyToken") for v in VERSIONS)
_SCT_VALUE_TYPES = frozenset(v.sct_token_type for v in VERSIONS)


@dataclass(frozen=True)
class TokenKey:
    secret: bytes | None = field(repr=False)
    public: rsa.RSAPublicKey | None
    origin: KeyOrigin
    depth: int = 0
    #: the token the key comes from, derived keys included: ``ek:<EncryptedKeySHA1>``,
    #: ``context:<Identifier>`` or ``x509:<SHA-256 fingerprint>``
    token: str = ""


#: Secret to this process: the stand-in keys of contexts a receiver does not know are derived from it.
_STAND_IN_SECRET: Final = secrets.token_bytes(32)


def stand_in_key(identifier: str, instance: str | None) -> bytes:
    """The key a message under an unknown (or no longer live) context is checked with: unknown to anyone, and
    the same for the same context within the process, so that the same message always meets the same fault.
    A fresh random key per message made that a matter of chance: AES-CBC "decrypts" under any key about once
    in 256 parts (the padding byte says a whole block of padding), and the message then went on to other
    checks and their faults (found by the compiled core's differential harness, tests/core)."""
    label = f"{identifier}\0{instance or ''}".encode()
    return hmac.new(_STAND_IN_SECRET, label, hashlib.sha256).digest()


def reference_form(ref: SecurityTokenReference | None) -> str:
    """How an EncryptedKey names the recipient certificate, in :attr:`Requirements.key_references` terms."""
    target = None if ref is None else ref.target
    if isinstance(target, IssuerSerial):
        return "issuer-serial"
    if isinstance(target, KeyIdentifier):
        return {ns.THUMBPRINT_SHA1: "thumbprint", ns.X509_SKI: "ski"}.get(target.value_type or "", "other")
    return "none" if ref is None else "other"


def _certificate_key(cert: x509.Certificate) -> TokenKey:
    """The public key of an X.509 token, the certificate its origin, its SHA-256 fingerprint its token."""
    token = "x509:" + cert.fingerprint(hashes.SHA256()).hex()
    return TokenKey(None, rsa_public_key(cert), KeyOrigin("x509", certificate=cert), token=token)


class TokenKeys:
    """Resolves the tokens of one Security header to keys, each token once (memoised by element)."""

    def __init__(
        self,
        security: Element,
        ids: dict[str, Element],
        resolver: KeyResolver,
        requirements: Requirements,
        limits: Limits,
        on_data_reference: Callable[[str, TokenKey], None],
    ) -> None:
        self.security, self.ids, self.resolver, self.req, self.limits = security, ids, resolver, requirements, limits
        #: an EncryptedKey's own ReferenceList (XML Encryption 3.5.1): what it encrypted, by URI
        self.on_data_reference = on_data_reference
        # Keyed by the element itself, never by id(): lxml makes a proxy object per access and frees it when
        # no reference is left, so an id() can come back for another element of the same header, which would
        # then get this token's key without ever being processed (and the fault would depend on the heap).
        # Holding the element keeps its proxy, so lxml hands out that same object for it while the walk lasts.
        self.keys: dict[Element, TokenKey] = {}  # a processed token -> key
        self.in_progress: set[Element] = set()
        self.encrypted_keys = 0
        #: the WS-SC version of the first derived key met (a bootstrap reply answers in the same version)
        self.derivation_version: SCVersion | None = None
        self.contexts: dict[str, ContextRef] = {}
        #: what a context referenced by this message is, when it is not live: told only to its key holder
        self.context_states: dict[str, BadContextToken | RenewNeeded] = {}
        #: wsu:Id -> Identifier of the SCTs carried in this header (a CancelTarget may reference them locally)
        self.sct_ids: dict[str, str] = {}

    def token_key(self, el: Element) -> TokenKey:
        """Process a token element once; its key is memoised by element identity."""
        key = self.keys.get(el)
        if key is not None:
            return key
        if el in self.in_progress:
            raise InvalidSecurityToken("circular token reference")
        self.in_progress.add(el)
        try:
            key = self._process_token(el)
        finally:
            self.in_progress.discard(el)
        self.keys[el] = key
        return key

    def _context(self, identifier: str, instance: str | None, version_ns: str | None) -> TokenKey:
        wanted = self.req.context_identifier
        if wanted is not None and identifier != wanted:
            raise BadContextToken("message is for another context")
        try:
            secret = self.resolver.context_key(identifier, instance)
        except ExpiredContextKey as expired:
            # Verified with its key all the same: wsc:RenewNeeded goes to the key holder only.
            secret = expired.key
            self.context_states[identifier] = RenewNeeded(expired.detail)
        except (BadContextToken, RenewNeeded) as unknown:
            # No key to check the message with: go on with a stand-in, so an unauthenticated sender meets
            # the very path (and fault) a live context would give it; the state is told to nobody.
            secret = stand_in_key(identifier, instance)
            self.context_states[identifier] = unknown
        ref = ContextRef(identifier, instance, by_sc_namespace(version_ns))
        known = self.contexts.get(identifier)
        if known is None or (known.version is None and ref.version is not None):
            self.contexts[identifier] = ref
        return TokenKey(secret, None, KeyOrigin("context", ref, base_secret=secret), token="context:" + identifier)

    def _process_token(self, el: Element) -> TokenKey:
        if el.tag in SCT_TAGS:
            sct = SecurityContextToken.from_element(el, keep_source=False)
            if sct.wsu_id:
                self.sct_ids[sct.wsu_id] = sct.identifier
            return self._context(sct.identifier, sct.instance, sct.version.sc)
        if el.tag in DKT_TAGS:
            dkt = DerivedKeyToken.from_element(el)
            return self._derive(dkt)
        if el.tag == EK_TAG:
            return self._encrypted_key(el)
        if el.tag == BST_TAG:
            return _certificate_key(X509Token.from_element(el).certificate)
        raise UnsupportedSecurityToken(f"{el.tag} is not a key-bearing token")

    def _encrypted_key(self, el: Element) -> TokenKey:
        """Open the message's EncryptedKey, after the cheap checks: one per message, the suite's key transport,
        a certificate reference of an accepted form (the RSA operation comes last)."""
        self.encrypted_keys += 1
        if self.encrypted_keys > self.limits.max_encrypted_keys:
            raise InvalidSecurity("too many EncryptedKeys in one message")
        ek = EncryptedKey.from_element(el)
        suite = self.req.suite
        if suite is not None and ek.algorithm != suite.asymmetric_key_wrap:
            raise UnsupportedAlgorithm(f"key transport {ek.algorithm!r} is not in the {suite.name} suite")
        allowed = self.req.key_references
        if allowed is not None and reference_form(ek.key_info) not in allowed:
            raise InvalidSecurityToken("the EncryptedKey names the certificate in a form this service refuses")
        private = self.resolver.private_key_for(ek.key_info)
        secret = ek.decrypt(private)
        origin = KeyOrigin("encrypted-key", base_secret=secret, encrypted_key_sha1=ek.sha1)
        key = TokenKey(secret, None, origin, token="ek:" + ek.sha1.hex())
        self.keys[el] = key
        for uri in ek.data_references:
            self.on_data_reference(uri, key)
        return key

    def _derive(self, dkt: DerivedKeyToken) -> TokenKey:
        if self.derivation_version is None:
            self.derivation_version = dkt.version
        if dkt.reference is None:
            raise UnknownDerivationSource("DerivedKeyToken without a SecurityTokenReference")
        try:
            base = self.resolve(dkt.reference, allow_implied=False)
        except (SecurityTokenUnavailable, InvalidSecurity) as exc:
            raise UnknownDerivationSource(exc.detail) from None
        if base.secret is None:
            raise UnknownDerivationSource("cannot derive from an asymmetric key")
        if base.depth >= 1:
            raise InvalidSecurityToken("derived keys may not be derived from derived keys")
        secret = dkt.derive(base.secret, self.limits)
        origin = base.origin
        return TokenKey(
            secret,
            None,
            KeyOrigin(origin.kind, origin.context, True, origin.base_secret, origin.encrypted_key_sha1),
            base.depth + 1,
            base.token,
        )

    def resolve(self, ref: SecurityTokenReference | None, allow_implied: bool = True) -> TokenKey:
        """The key an STR designates (WSS 1.1 section 7 resolution order: local, then external)."""
        if ref is None:
            raise SecurityTokenUnavailable("KeyInfo is required")
        if ref.implies_derived_key:
            if not allow_implied:
                raise InvalidSecurityToken("implied derived key in a derived key")
            return self._derive(implied(ref))
        target = ref.target
        if isinstance(target, Reference):
            if target.is_local:
                el = self.ids.get(target.local_id)
                if el is None or el.getparent() is not self.security:
                    raise SecurityTokenUnavailable(f"no token {target.uri!r} in the Security header")
                return self.token_key(el)
            if target.value_type is None or target.value_type in _SCT_VALUE_TYPES:
                version_ns = target.value_type.rsplit("/", 1)[0] if target.value_type else None
                return self._context(target.uri, target.instance, version_ns)
            raise SecurityTokenUnavailable(f"cannot resolve external reference of type {target.value_type!r}")
        if isinstance(target, KeyIdentifier) and target.value_type == ns.ENCRYPTED_KEY_SHA1:
            for el in self.security.iterchildren(EK_TAG):
                key = self.token_key(el)
                if key.origin.encrypted_key_sha1 == target.value:
                    return key
            secret = self.resolver.encrypted_key_by_sha1(target.value)
            origin = KeyOrigin("encrypted-key", base_secret=secret, encrypted_key_sha1=target.value)
            return TokenKey(secret, None, origin, token="ek:" + target.value.hex())
        return _certificate_key(self.resolver.certificate_for(ref))
