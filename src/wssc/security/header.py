"""Processing one ``wsse:Security`` header (WSS 1.1 sections 5-10), in document order as WCF and WSS4J do:
tokens are resolved when met (or when first referenced, for Lax layouts), ReferenceLists decrypt their
targets in place, signatures are verified over what is in the tree at that moment.  What was proven is
collected on the :class:`HeaderProcessor`; :mod:`wssc.security.unprotect` checks it against the caller's
requirements and builds the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import namespaces as ns
from wssc.errors import (
    BadContextToken,
    InvalidSecurity,
    InvalidSecurityToken,
    SecurityTokenUnavailable,
    UnknownDerivationSource,
    UnsupportedAlgorithm,
    UnsupportedSecurityToken,
)
from wssc.limits import Limits
from wssc.primitives.xml import Element, b64decode
from wssc.security import dsig, xmlenc
from wssc.security.keys import KeyResolver
from wssc.security.policy import Requirements
from wssc.security.result import ContextRef, KeyOrigin
from wssc.security.soap import Envelope
from wssc.security.timestamp import TIMESTAMP_TAG, Timestamp
from wssc.tokens.dkt import DerivedKeyToken, implied
from wssc.tokens.encrypted_key import EK_TAG, EncryptedKey
from wssc.tokens.reference import KeyIdentifier, Reference, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.username import USERNAME_TOKEN_TAG, UsernameToken
from wssc.tokens.x509 import BST_TAG, X509Token, rsa_public_key
from wssc.versions import VERSIONS, SCVersion, by_sc_namespace

_SIG_CONF = ns.qn(ns.WSSE11, "SignatureConfirmation")
_SCT_TAGS = frozenset(v.sc_qname("SecurityContextToken") for v in VERSIONS)
_DKT_TAGS = frozenset(v.sc_qname("DerivedKeyToken") for v in VERSIONS)
_SCT_VALUE_TYPES = frozenset(v.sct_token_type for v in VERSIONS)
#: elements carrying wsu:Id or Id, the subtree root included; one pass in C
#: every wsu:Id and Id attribute in a subtree, its root included: one pass in C, three times faster than
#: selecting the elements with a predicate
_ID_ATTRIBUTES = etree.XPath("descendant-or-self::*/@wsu:Id | descendant-or-self::*/@Id", namespaces={"wsu": ns.WSU})


_STRICT_NAMESPACES = frozenset({ns.WSSE, ns.WSSE11, ns.WSU, ns.DS, ns.XENC, *(v.sc for v in VERSIONS)})


@dataclass(frozen=True)
class TokenKey:
    secret: bytes | None = field(repr=False)
    public: rsa.RSAPublicKey | None
    origin: KeyOrigin
    depth: int = 0


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
    ) -> None:
        self.root, self.env, self.security = root, env, security
        self.resolver, self.req, self.limits, self.now = resolver, requirements, limits, now
        self.ids: dict[str, Element] = {}
        self.keys: dict[int, TokenKey] = {}  # id(element) of a processed token -> key
        self.in_progress: set[int] = set()
        self.timestamp: Timestamp | None = None
        self.timestamp_el: Element | None = None
        self.signatures: list[tuple[dsig.VerifiedSignature, TokenKey]] = []
        self.decrypted: list[tuple[Element, str, TokenKey]] = []
        self.confirmations: list[bytes | None] = []
        self.signed_plaintext: list[tuple[dsig.VerifiedSignature, Element]] = []
        self.usernames: list[tuple[UsernameToken, Element]] = []
        self.decrypted_ids: set[str] = set()
        #: replay detection for messages that are encrypted but not signed
        self.first_cipher_value: bytes | None = None
        #: the WS-SC version of the first derived key met (a bootstrap reply answers in the same version)
        self.derivation_version: SCVersion | None = None
        self.contexts: dict[str, ContextRef] = {}

    # -- ids -------------------------------------------------------------------------------------------
    def index(self, subtree: Element) -> None:
        """Record the wsu:Id and Id values of ``subtree``; the same value on two elements is refused."""
        found = _ID_ATTRIBUTES(subtree)
        assert isinstance(found, list)
        for attribute in found:
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
        secret = self.resolver.context_key(identifier, instance)
        ref = ContextRef(identifier, instance, by_sc_namespace(version_ns))
        known = self.contexts.get(identifier)
        if known is None or (known.version is None and ref.version is not None):
            self.contexts[identifier] = ref
        return TokenKey(secret, None, KeyOrigin("context", ref, base_secret=secret))

    def _process_token(self, el: Element) -> TokenKey:
        if el.tag in _SCT_TAGS:
            sct = SecurityContextToken.from_element(el, keep_source=False)
            return self._context(sct.identifier, sct.instance, sct.version.sc)
        if el.tag in _DKT_TAGS:
            dkt = DerivedKeyToken.from_element(el)
            return self._derive(dkt)
        if el.tag == EK_TAG:
            ek = EncryptedKey.from_element(el)
            private = self.resolver.private_key_for(ek.key_info)
            secret = ek.decrypt(private)
            key = TokenKey(secret, None, KeyOrigin("encrypted-key", base_secret=secret, encrypted_key_sha1=ek.sha1))
            self.keys[id(el)] = key
            for uri in ek.data_references:
                self.decrypt_reference(uri, key)
            return key
        if el.tag == BST_TAG:
            cert = X509Token.from_element(el).certificate
            return TokenKey(None, rsa_public_key(cert), KeyOrigin("x509", certificate=cert))
        raise UnsupportedSecurityToken(f"{el.tag} is not a key-bearing token")

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
            return TokenKey(
                secret, None, KeyOrigin("encrypted-key", base_secret=secret, encrypted_key_sha1=target.value)
            )
        cert = self.resolver.certificate_for(ref)
        return TokenKey(None, rsa_public_key(cert), KeyOrigin("x509", certificate=cert))

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
        nodes = xmlenc.decrypt(info, key.secret, self.limits)
        for node in nodes:
            self.index(node)
        for verified, _ in self.signatures:
            if any(ed is el for _, el in verified.references):
                # Encrypt-before-sign: the signature covered the EncryptedData; what it held is signed too.
                self.signed_plaintext.extend((verified, node) for node in nodes)
        if info.data_type == ns.XENC_CONTENT:
            self.decrypted.append((parent, info.algorithm, key))
        else:
            self.decrypted.extend((node, info.algorithm, key) for node in nodes)

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
        i = 0
        while i < len(self.security):
            child = self.security[i]
            i += 1
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            if tag == TIMESTAMP_TAG:
                if self.timestamp is not None:
                    raise InvalidSecurity("more than one Timestamp")
                self.timestamp = Timestamp.from_element(child)
                self.timestamp_el = child
                self.timestamp.check(self.now, self.req.max_clock_skew)
            elif tag in _SCT_TAGS or tag in _DKT_TAGS or tag in (EK_TAG, BST_TAG):
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
                self.usernames.append((UsernameToken.from_element(child), child))
            elif tag == _SIG_CONF:
                value = child.get("Value")
                self.confirmations.append(None if value is None else b64decode(value, "SignatureConfirmation"))
            elif etree.QName(child).namespace in _STRICT_NAMESPACES:
                raise UnsupportedSecurityToken(f"unsupported {tag} in the Security header")

    def verify(self, sig_el: Element) -> None:
        suite = self.req.suite
        found: list[TokenKey] = []

        def lookup(ref: SecurityTokenReference | None, method: str) -> bytes | rsa.RSAPublicKey:
            key = self.resolve(ref)
            found.append(key)
            if key.public is not None:
                return key.public
            assert key.secret is not None
            return key.secret

        verified = dsig.verify(
            sig_el,
            self.ids,
            lookup,
            max_references=self.limits.max_signature_references,
            allowed_digests=None if suite is None else frozenset({suite.digest}),
            allowed_methods=None
            if suite is None
            else frozenset({suite.symmetric_signature, suite.asymmetric_signature}),
        )
        self.signatures.append((verified, found[0]))
