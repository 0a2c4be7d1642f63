"""Processing one ``wsse:Security`` header (WSS 1.1 sections 5-10), in document order as WCF and WSS4J do:
tokens are resolved when met (or when first referenced, for Lax layouts), ReferenceLists decrypt their
targets in place, signatures are verified over what is in the tree at that moment.  What was proven is
collected on the :class:`HeaderProcessor`; :mod:`wssc.security.unprotect` checks it against the caller's
requirements and builds the result.

Every key is tagged with the token it comes from (:attr:`TokenKey.token`: one EncryptedKey, one context,
one certificate), so that the message can be bound to one authenticating token (see
:mod:`wssc.security.unprotect`).  Work is bounded before anything is authenticated: one EncryptedKey, a few
signatures (one primary, the others endorsing it), a digest budget, cheap policy checks first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import namespaces as ns
from wssc.errors import (
    BadContextToken,
    FailedCheck,
    InvalidSecurity,
    InvalidSecurityToken,
    MessageExpired,
    RenewNeeded,
    SecurityTokenUnavailable,
    UnknownDerivationSource,
    UnsupportedAlgorithm,
    UnsupportedSecurityToken,
)
from wssc.limits import REPLAY_WINDOW, Limits
from wssc.primitives.xml import Element, b64decode
from wssc.primitives.xsdtime import parse_time
from wssc.security import dsig, xmlenc
from wssc.security.keys import ExpiredContextKey, KeyResolver
from wssc.security.policy import Requirements
from wssc.security.result import ContextRef, KeyOrigin
from wssc.security.soap import Envelope
from wssc.security.timestamp import TIMESTAMP_TAG, Timestamp
from wssc.tokens.dkt import DerivedKeyToken, implied
from wssc.tokens.encrypted_key import EK_TAG, EncryptedKey
from wssc.tokens.reference import IssuerSerial, KeyIdentifier, Reference, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.username import USERNAME_TOKEN_TAG, UsernameToken
from wssc.tokens.x509 import BST_TAG, X509Token, rsa_public_key
from wssc.versions import VERSIONS, SCVersion, by_sc_namespace

_SIG_CONF = ns.qn(ns.WSSE11, "SignatureConfirmation")
_SCT_TAGS = frozenset(v.sc_qname("SecurityContextToken") for v in VERSIONS)
_DKT_TAGS = frozenset(v.sc_qname("DerivedKeyToken") for v in VERSIONS)
_SCT_VALUE_TYPES = frozenset(v.sct_token_type for v in VERSIONS)
#: every wsu:Id, then every Id attribute in a subtree, its root included: one pass in C each.  Two queries, not
#: one union: libxml2 merges the node sets of a union pairwise, quadratic in their size (a 1 MiB envelope
#: with both attributes on every element took 8 s to index).
_WSU_IDS = etree.XPath("descendant-or-self::*/@wsu:Id", namespaces={"wsu": ns.WSU})
_PLAIN_IDS = etree.XPath("descendant-or-self::*/@Id")


_STRICT_NAMESPACES = frozenset({ns.WSSE, ns.WSSE11, ns.WSU, ns.DS, ns.XENC, *(v.sc for v in VERSIONS)})


@dataclass(frozen=True)
class TokenKey:
    secret: bytes | None = field(repr=False)
    public: rsa.RSAPublicKey | None
    origin: KeyOrigin
    depth: int = 0
    #: the token the key comes from, derived keys included: ``ek:<EncryptedKeySHA1>``,
    #: ``context:<Identifier>`` or ``x509:<SHA-256 fingerprint>``
    token: str = ""


def _reference_form(ref: SecurityTokenReference | None) -> str:
    """How an EncryptedKey names the recipient certificate, in :attr:`Requirements.key_references` terms."""
    target = None if ref is None else ref.target
    if isinstance(target, IssuerSerial):
        return "issuer-serial"
    if isinstance(target, KeyIdentifier):
        return {ns.THUMBPRINT_SHA1: "thumbprint", ns.X509_SKI: "ski"}.get(target.value_type or "", "other")
    return "none" if ref is None else "other"


class HeaderProcessor:
    def __init__(
        self,
        root: Element,
        env: Envelope,
        security: Element,
        resolver: KeyResolver,
        requirements: Requirements,
        limits: Limits,
        now: datetime,
        message_bytes: int | None = None,
    ) -> None:
        self.root, self.env, self.security = root, env, security
        self.resolver, self.req, self.limits, self.now = resolver, requirements, limits, now
        self.ids: dict[str, Element] = {}
        #: the message's bound on canonical bytes digested, charged by every reference of every signature
        self.budget = dsig.DigestBudget(limits.digest_budget(message_bytes))
        self.keys: dict[int, TokenKey] = {}  # id(element) of a processed token -> key
        self.in_progress: set[int] = set()
        self.timestamp: Timestamp | None = None
        self.timestamp_el: Element | None = None
        self.signatures: list[tuple[dsig.VerifiedSignature, TokenKey]] = []
        #: the one signature that does not sign another signature (WS-SP 1.2 section 6.5: the message signature)
        self.primary: tuple[dsig.VerifiedSignature, TokenKey] | None = None
        self.decrypted: list[tuple[Element, str, TokenKey]] = []
        #: elements that came out of an EncryptedData (#Element), by identity
        self.decrypted_elements: set[int] = set()
        #: the one token every decryption key of this message comes from
        self.decryption_token: str | None = None
        self.encrypted_keys = 0
        self.confirmations: list[tuple[bytes | None, Element]] = []
        self.signed_plaintext: list[tuple[dsig.VerifiedSignature, Element]] = []
        self.usernames: list[tuple[UsernameToken, Element]] = []
        self.decrypted_ids: set[str] = set()
        #: replay detection for messages that are encrypted but not signed
        self.first_cipher_value: bytes | None = None
        #: the WS-SC version of the first derived key met (a bootstrap reply answers in the same version)
        self.derivation_version: SCVersion | None = None
        self.contexts: dict[str, ContextRef] = {}
        #: what a context referenced by this message is, when it is not live: told only to its key holder
        self.context_states: dict[str, BadContextToken | RenewNeeded] = {}
        #: wsu:Id -> Identifier of the SCTs carried in this header (a CancelTarget may reference them locally)
        self.sct_ids: dict[str, str] = {}

    # -- ids -------------------------------------------------------------------------------------------
    def index(self, subtree: Element) -> None:
        """Record the wsu:Id and Id values of ``subtree``; the same value on two elements is refused."""
        found = _WSU_IDS(subtree)
        plain = _PLAIN_IDS(subtree)
        assert isinstance(found, list) and isinstance(plain, list)
        for attribute in found + plain:
            value = str(attribute)
            el = attribute.getparent()  # type: ignore[union-attr]
            if el is None:
                continue
            known = self.ids.get(value)
            if known is not None and known is not el:
                raise InvalidSecurity(f"duplicate id {value!r}")
            self.ids[value] = el

    def unindex(self, subtree: Element) -> None:
        """Forget the ids of a (small) subtree leaving the document: an EncryptedData being decrypted."""
        for el in subtree.iter(etree.Element):
            for value in (el.get(ns.WSU_ID), el.get("Id")):
                if value is not None and self.ids.get(value) is el:
                    del self.ids[value]

    # -- tokens ----------------------------------------------------------------------------------------
    def token_key(self, el: Element) -> TokenKey:
        """Process a token element once; its key is memoised by element identity."""
        key = self.keys.get(id(el))
        if key is not None:
            return key
        if id(el) in self.in_progress:
            raise InvalidSecurityToken("circular token reference")
        self.in_progress.add(id(el))
        try:
            key = self._process_token(el)
        finally:
            self.in_progress.discard(id(el))
        self.keys[id(el)] = key
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
            # No key to check the message with: go on with a random one, so an unauthenticated sender meets
            # the very path (and fault) a live context would give it; the state is told to nobody.
            secret = secrets.token_bytes(32)
            self.context_states[identifier] = unknown
        ref = ContextRef(identifier, instance, by_sc_namespace(version_ns))
        known = self.contexts.get(identifier)
        if known is None or (known.version is None and ref.version is not None):
            self.contexts[identifier] = ref
        return TokenKey(secret, None, KeyOrigin("context", ref, base_secret=secret), token="context:" + identifier)

    def _process_token(self, el: Element) -> TokenKey:
        if el.tag in _SCT_TAGS:
            sct = SecurityContextToken.from_element(el, keep_source=False)
            if sct.wsu_id:
                self.sct_ids[sct.wsu_id] = sct.identifier
            return self._context(sct.identifier, sct.instance, sct.version.sc)
        if el.tag in _DKT_TAGS:
            dkt = DerivedKeyToken.from_element(el)
            return self._derive(dkt)
        if el.tag == EK_TAG:
            return self._encrypted_key(el)
        if el.tag == BST_TAG:
            cert = X509Token.from_element(el).certificate
            token = "x509:" + cert.fingerprint(hashes.SHA256()).hex()
            return TokenKey(None, rsa_public_key(cert), KeyOrigin("x509", certificate=cert), token=token)
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
        if allowed is not None and _reference_form(ek.key_info) not in allowed:
            raise InvalidSecurityToken("the EncryptedKey names the certificate in a form this service refuses")
        private = self.resolver.private_key_for(ek.key_info)
        secret = ek.decrypt(private)
        origin = KeyOrigin("encrypted-key", base_secret=secret, encrypted_key_sha1=ek.sha1)
        key = TokenKey(secret, None, origin, token="ek:" + ek.sha1.hex())
        self.keys[id(el)] = key
        for uri in ek.data_references:
            self.decrypt_reference(uri, key)
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
        cert = self.resolver.certificate_for(ref)
        token = "x509:" + cert.fingerprint(hashes.SHA256()).hex()
        return TokenKey(None, rsa_public_key(cert), KeyOrigin("x509", certificate=cert), token=token)

    # -- encryption --------------------------------------------------------------------------------------
    def decrypt_reference(self, uri: str, key: TokenKey | None = None) -> None:
        if not uri.startswith("#"):
            raise InvalidSecurity(f"DataReference {uri!r} is not a local reference")
        if uri[1:] in self.decrypted_ids:
            return  # a header EncryptedData met (and decrypted) before the ReferenceList that lists it
        ed = self.ids.get(uri[1:])
        if ed is None or ed.tag != xmlenc.ED_TAG:
            raise InvalidSecurity(f"DataReference {uri!r} does not name an EncryptedData")
        self.decrypt(ed, key)

    def decrypt(self, ed: Element, key: TokenKey | None = None) -> None:
        info = xmlenc.parse_encrypted_data(ed)
        if info.key_reference is not None or key is None:
            key = self.resolve(info.key_reference)
        if key.secret is None:
            raise UnsupportedAlgorithm("encryption with an asymmetric key")
        self._check_cipher(info.algorithm)
        if self.decryption_token is None:
            self.decryption_token = key.token
        elif key.token != self.decryption_token:
            # One message, one encryption token: parts grafted from another message stay sealed.
            raise InvalidSecurity("parts of the message are encrypted under different tokens")
        parent = ed.getparent()
        assert parent is not None
        if info.data_type == ns.XENC_CONTENT and (
            len(parent) != 1 or (parent.text or "").strip() or (ed.tail or "").strip()
        ):
            # Content encryption replaces the whole content; anything beside it was added in clear.
            raise InvalidSecurity("EncryptedData of type Content is not the only content of its parent")
        self.unindex(ed)
        ed_id = ed.get("Id")
        if ed_id:
            self.decrypted_ids.add(ed_id)
        if self.first_cipher_value is None:
            self.first_cipher_value = info.cipher_value
        try:
            nodes = xmlenc.decrypt(info, key.secret, self.limits)
        except FailedCheck:
            raise self._under_context(key, "decryption failed") from None
        for node in nodes:
            self.index(node)
        for verified, signer in self.signatures:
            same_token = signer.secret is not None and signer.token == key.token
            if same_token and any(ed is el for _, el in verified.references):
                # Encrypt-before-sign: the signature covered the EncryptedData, and its key is the key that
                # encrypted it, so the signer chose what it held.  A signature by any other token proves
                # nothing about the plaintext (someone else's cipher text can be signed without reading it).
                self.signed_plaintext.extend((verified, node) for node in nodes)
        if info.data_type == ns.XENC_CONTENT:
            self.decrypted.append((parent, info.algorithm, key))
        else:
            self.decrypted.extend((node, info.algorithm, key) for node in nodes)
            self.decrypted_elements.update(id(node) for node in nodes)

    @staticmethod
    def _under_context(key: TokenKey, detail: str) -> FailedCheck | BadContextToken:
        """A failed check (signature value, digest, decryption alike) under a context key is
        ``wsc:BadContextToken``: the sender did not prove the context, and a cancelled or unknown context
        (checked with a random key) must fail the same way as a live one.  All such failures are one fault,
        so neither the context's state nor "decrypted, then failed its digest" shows."""
        if key.origin.kind == "context":
            return BadContextToken(detail)
        return FailedCheck(detail)

    def _check_cipher(self, uri: str) -> None:
        suite = self.req.suite
        if suite is not None and uri not in (
            suite.encryption,
            suite.encryption.replace(ns.XENC, ns.XENC11).replace("-cbc", "-gcm"),
        ):
            raise UnsupportedAlgorithm(f"encryption {uri!r} is not in the {suite.name} suite")

    # -- the header walk -----------------------------------------------------------------------------------
    def run(self) -> None:
        self.index(self.root)
        if len(self.security) > self.limits.max_security_header_elements:
            raise InvalidSecurity("too many elements in the Security header")
        # The cheap checks first, whatever the layout: the Timestamp's freshness before any key is touched.
        stamps = list(self.security.iterchildren(TIMESTAMP_TAG))
        if len(stamps) > 1:
            raise InvalidSecurity("more than one Timestamp")
        if stamps:
            self.timestamp = Timestamp.from_element(stamps[0])
            self.timestamp_el = stamps[0]
            self.timestamp.check(self.now, self.req.max_clock_skew)
        elif self.req.timestamp:
            raise InvalidSecurity("a Timestamp is required")
        i = 0
        while i < len(self.security):
            child = self.security[i]
            i += 1
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            if tag == TIMESTAMP_TAG:
                continue
            if tag in _SCT_TAGS or tag in _DKT_TAGS or tag in (EK_TAG, BST_TAG):
                self.token_key(child)
            elif tag == xmlenc.REFERENCE_LIST_TAG:
                for ref in child.iterchildren(xmlenc.DATA_REFERENCE_TAG):
                    self.decrypt_reference(ref.get("URI") or "")
            elif tag == xmlenc.ED_TAG:
                self.decrypt(child)
                i -= 1  # look at what the EncryptedData held
            elif tag == dsig.SIGNATURE_TAG:
                self.verify(child)
            elif tag == USERNAME_TOKEN_TAG:
                token = UsernameToken.from_element(child)
                self._check_fresh(token)
                self.usernames.append((token, child))
            elif tag == _SIG_CONF:
                value = child.get("Value")
                self.confirmations.append((None if value is None else b64decode(value, "SignatureConfirmation"), child))
            elif etree.QName(child).namespace in _STRICT_NAMESPACES:
                raise UnsupportedSecurityToken(f"unsupported {tag} in the Security header")

    def _check_fresh(self, token: UsernameToken) -> None:
        """A UsernameToken's Created, when it has one, within the replay window and the clock skew, as a
        Timestamp's (WSS UsernameToken Profile 1.1 section 4: freshness; its Nonce is remembered by the
        replay cache)."""
        if token.created is None:
            return
        created = parse_time(token.created)
        skew = self.req.max_clock_skew
        if created > self.now + skew:
            raise InvalidSecurity("UsernameToken created in the future")
        if created < self.now - REPLAY_WINDOW - skew:
            raise MessageExpired("UsernameToken is too old")

    def verify(self, sig_el: Element) -> None:
        """Verify a signature: either the message's one primary signature or one endorsing it (WS-SP 1.2
        sections 6.5 and 8.3); anything else is refused before any digest is computed."""
        if len(self.signatures) >= self.limits.max_signatures:
            raise InvalidSecurity("too many signatures in one message")
        uris = dsig.reference_uris(sig_el, self.limits.max_signature_references)
        primary_el = None if self.primary is None else self.primary[0].element
        endorses = primary_el is not None and any(self.ids.get(u[1:]) is primary_el for u in uris if u[:1] == "#")
        if not endorses:
            if self.primary is not None:
                raise InvalidSecurity("a second signature that does not endorse the message signature")
            if self.req.encrypted_signature and id(sig_el) not in self.decrypted_elements:
                raise InvalidSecurity("the message signature must be encrypted")
        suite = self.req.suite
        found: list[TokenKey] = []

        def lookup(ref: SecurityTokenReference | None, method: str) -> bytes | rsa.RSAPublicKey:
            key = self.resolve(ref)
            found.append(key)
            if key.public is not None:
                return key.public
            assert key.secret is not None
            return key.secret

        try:
            verified = dsig.verify(
                sig_el,
                self.ids,
                lookup,
                max_references=self.limits.max_signature_references,
                allowed_digests=None if suite is None else frozenset({suite.digest}),
                allowed_methods=None
                if suite is None
                else frozenset({suite.symmetric_signature, suite.asymmetric_signature}),
                budget=self.budget,
            )
        except FailedCheck as failed:
            raise (self._under_context(found[0], failed.detail) if found else failed) from None
        key = found[0]
        self.signatures.append((verified, key))
        if not endorses:
            self.primary = (verified, key)
            state = key.origin.context and self.context_states.get(key.origin.context.identifier)
            if state:
                raise state  # authenticated under an expired context: now, and only now, say so
