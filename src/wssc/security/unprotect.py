"""Incoming message processing: verify and decrypt a protected SOAP envelope (WSS 1.1 sections 5-10).

The wsse:Security header is processed in document order, as WCF and WSS4J do: tokens are resolved when
met (or when first referenced, for Lax layouts), ReferenceLists decrypt their targets in place, signatures
are verified over what is in the tree at that moment.  Afterwards the caller's :class:`Requirements` are
checked against what was proven, and only that is returned (:class:`VerifiedMessage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

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
    WsscError,
)
from wssc.limits import DEFAULT_LIMITS, TIMESTAMP_VALIDITY, Limits
from wssc.primitives.xml import Element, b64decode, check_depth, local_id, parse
from wssc.security import dsig, xmlenc
from wssc.security.keys import KeyResolver
from wssc.security.policy import Requirements
from wssc.security.replay import InMemoryReplayCache, ReplayCache
from wssc.security.result import ContextRef, KeyOrigin, SupportingToken, VerifiedMessage
from wssc.security.soap import Envelope, split
from wssc.security.timestamp import TIMESTAMP_TAG, Timestamp
from wssc.tokens.dkt import DerivedKeyToken, implied
from wssc.tokens.encrypted_key import EK_TAG, EncryptedKey
from wssc.tokens.reference import KeyIdentifier, Reference, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.username import USERNAME_TOKEN_TAG, UsernameToken
from wssc.tokens.x509 import BST_TAG, X509Token, rsa_public_key
from wssc.versions import VERSIONS, SCVersion, by_sc_namespace

_SECURITY = ns.qn(ns.WSSE, "Security")
_SIG_CONF = ns.qn(ns.WSSE11, "SignatureConfirmation")
_SCT_TAGS = frozenset(v.sc_qname("SecurityContextToken") for v in VERSIONS)
_DKT_TAGS = frozenset(v.sc_qname("DerivedKeyToken") for v in VERSIONS)
_SCT_VALUE_TYPES = frozenset(v.sct_token_type for v in VERSIONS)
#: elements carrying wsu:Id or Id, the subtree root included; one pass in C
_WITH_ID = etree.XPath("descendant-or-self::*[@wsu:Id or @Id]", namespaces={"wsu": ns.WSU})


def _elements_with_id(subtree: Element) -> list[Element]:
    found = _WITH_ID(subtree)
    assert isinstance(found, list)
    return found  # type: ignore[return-value]


_STRICT_NAMESPACES = frozenset({ns.WSSE, ns.WSSE11, ns.WSU, ns.DS, ns.XENC, *(v.sc for v in VERSIONS)})


@dataclass(frozen=True)
class _Key:
    secret: bytes | None
    public: rsa.RSAPublicKey | None
    origin: KeyOrigin
    depth: int = 0


class _Processor:
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
        self.keys: dict[int, _Key] = {}  # id(element) of a processed token -> key
        self.in_progress: set[int] = set()
        self.timestamp: Timestamp | None = None
        self.timestamp_el: Element | None = None
        self.signatures: list[tuple[dsig.VerifiedSignature, _Key]] = []
        self.decrypted: list[tuple[Element, str, _Key]] = []
        self.confirmations: list[bytes | None] = []
        self.signed_plaintext: list[tuple[dsig.VerifiedSignature, Element]] = []
        self.usernames: list[tuple[UsernameToken, Element]] = []
        self.decrypted_ids: set[str] = set()
        #: the WS-SC version of the first derived key met (a bootstrap reply answers in the same version)
        self.derivation_version: SCVersion | None = None
        self.contexts: dict[str, ContextRef] = {}

    # -- ids -------------------------------------------------------------------------------------------
    def index(self, subtree: Element) -> None:
        for el in _elements_with_id(subtree):
            value = local_id(el)
            if value is None:
                continue
            if value in self.ids and self.ids[value] is not el:
                raise InvalidSecurity(f"duplicate id {value!r}")
            self.ids[value] = el

    def unindex(self, subtree: Element) -> None:
        """Forget the ids of a (small) subtree leaving the document: an EncryptedData being decrypted."""
        for el in subtree.iter(etree.Element):
            value = local_id(el)
            if value is not None and self.ids.get(value) is el:
                del self.ids[value]

    # -- tokens ----------------------------------------------------------------------------------------
    def token_key(self, el: Element) -> _Key:
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

    def _context(self, identifier: str, instance: str | None, version_ns: str | None) -> _Key:
        wanted = self.req.context_identifier
        if wanted is not None and identifier != wanted:
            raise BadContextToken("message is for another context")
        secret = self.resolver.context_key(identifier, instance)
        ref = ContextRef(identifier, instance, by_sc_namespace(version_ns))
        known = self.contexts.get(identifier)
        if known is None or (known.version is None and ref.version is not None):
            self.contexts[identifier] = ref
        return _Key(secret, None, KeyOrigin("context", ref, base_secret=secret))

    def _process_token(self, el: Element) -> _Key:
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
            key = _Key(secret, None, KeyOrigin("encrypted-key", base_secret=secret, encrypted_key_sha1=ek.sha1))
            self.keys[id(el)] = key
            for uri in ek.data_references:
                self.decrypt_reference(uri, key)
            return key
        if el.tag == BST_TAG:
            cert = X509Token.from_element(el).certificate
            return _Key(None, rsa_public_key(cert), KeyOrigin("x509", certificate=cert))
        raise UnsupportedSecurityToken(f"{el.tag} is not a key-bearing token")

    def _derive(self, dkt: DerivedKeyToken) -> _Key:
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
        return _Key(
            secret,
            None,
            KeyOrigin(origin.kind, origin.context, True, origin.base_secret, origin.encrypted_key_sha1),
            base.depth + 1,
        )

    def resolve(self, ref: SecurityTokenReference | None, allow_implied: bool = True) -> _Key:
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
            return _Key(secret, None, KeyOrigin("encrypted-key", base_secret=secret, encrypted_key_sha1=target.value))
        cert = self.resolver.certificate_for(ref)
        return _Key(None, rsa_public_key(cert), KeyOrigin("x509", certificate=cert))

    # -- encryption --------------------------------------------------------------------------------------
    def decrypt_reference(self, uri: str, key: _Key | None = None) -> None:
        if not uri.startswith("#"):
            raise InvalidSecurity(f"DataReference {uri!r} is not a local reference")
        if uri[1:] in self.decrypted_ids:
            return  # a header EncryptedData met (and decrypted) before the ReferenceList that lists it
        ed = self.ids.get(uri[1:])
        if ed is None or ed.tag != xmlenc.ED_TAG:
            raise InvalidSecurity(f"DataReference {uri!r} does not name an EncryptedData")
        self.decrypt(ed, key)

    def decrypt(self, ed: Element, key: _Key | None = None) -> None:
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
        found: list[_Key] = []

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


def _find_security(env: Envelope) -> Element:
    if env.header is None:
        raise InvalidSecurity("no SOAP Header")
    role_attrs = (ns.qn(ns.SOAP11, "actor"), ns.qn(ns.SOAP12, "role"))
    ours = [
        h
        for h in env.header.iterchildren(_SECURITY)
        if not any(
            h.get(a) not in (None, "", "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver")
            for a in role_attrs
        )
    ]
    if len(ours) != 1:
        raise InvalidSecurity("expected exactly one wsse:Security header for this receiver")
    return ours[0]


class Receiver:
    """Verifies incoming messages for one endpoint; holds the replay cache those messages share."""

    def __init__(
        self,
        resolver: KeyResolver,
        requirements: Requirements | None = None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        self.resolver = resolver
        self.requirements = requirements or Requirements()
        self.limits = limits
        self.replay_cache: ReplayCache = replay_cache or InMemoryReplayCache()

    def unprotect(self, data: bytes | Element, *, now: datetime | None = None) -> VerifiedMessage:
        """Verify and decrypt ``data``; raises a :class:`~wssc.errors.WsscError` subclass on any failure."""
        try:
            return self._unprotect(data, now or datetime.now(timezone.utc))
        except WsscError:
            raise
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            AssertionError,
            OverflowError,
            etree.LxmlError,
        ) as exc:
            # Last line of defence: malformed input that slipped past a check is still only a bad message.
            raise InvalidSecurity(f"{type(exc).__name__}: {exc}") from None

    def _unprotect(self, data: bytes | Element, now: datetime) -> VerifiedMessage:
        req = self.requirements
        root = parse(data, self.limits) if isinstance(data, bytes) else data
        env = split(root)
        security = _find_security(env)
        proc = _Processor(root, env, security, self.resolver, req, self.limits, now)
        proc.run()
        if proc.decrypted:
            check_depth(root, self.limits.max_xml_depth)  # decrypted fragments were parsed unchecked
        for leftover in root.iter(xmlenc.ED_TAG):
            raise InvalidSecurity(f"EncryptedData {leftover.get('Id')!r} was not decrypted")

        primary = next(((s, k) for s, k in proc.signatures if k.secret is not None), None)
        if primary is None and proc.signatures:
            primary = proc.signatures[0]
        signed: tuple[Element, ...] = ()
        if primary is not None:
            signed = tuple(el for _, el in primary[0].references)
            signed += tuple(el for s, el in proc.signed_plaintext if s is primary[0])
        endorsing = tuple(
            (s, k.origin)
            for s, k in proc.signatures
            if primary is not None and s is not primary[0] and any(el is primary[0].element for _, el in s.references)
        )
        if req.signature and primary is None:
            raise InvalidSecurity("the message is not signed")
        if primary is None and not proc.decrypted and not req.transport_protected:
            raise InvalidSecurity("the message is neither signed nor encrypted")
        _check_coverage(env, proc, signed, req)

        used = [k for _, _, k in proc.decrypted] + ([] if primary is None else [primary[1]])
        contexts = {k.origin.context.identifier for k in used if k.origin.context is not None}
        contexts |= set(proc.contexts) if contexts else set()
        if len(contexts) > 1:
            raise InvalidSecurity("keys of more than one context in one message")
        if req.derived_keys and any(not k.origin.derived for k in used):
            raise InvalidSecurity("derived keys are required")
        context = proc.contexts[next(iter(contexts))] if contexts else None
        if req.context_identifier is not None and (context is None or context.identifier != req.context_identifier):
            raise BadContextToken("the message is not protected by the expected context")

        if req.detect_replays and primary is not None:
            ts = proc.timestamp
            expires = (ts.expires if ts and ts.expires else now + TIMESTAMP_VALIDITY) + req.max_clock_skew
            if not self.replay_cache.add(primary[0].value, expires, now):
                raise InvalidSecurity("replayed message")

        security.getparent().remove(security)  # type: ignore[union-attr]
        algorithms: dict[str, str] = {"c14n": ns.EXC_C14N}
        if primary is not None:
            algorithms["signature"] = primary[0].method
            algorithms["digest"] = primary[0].digest
        if proc.decrypted:
            algorithms["encryption"] = proc.decrypted[0][1]
        if proc.derivation_version is not None and any(k.origin.derived for k in used):
            algorithms["derivation"] = proc.derivation_version.p_sha1
        return VerifiedMessage(
            envelope=root,
            soap=env.soap,
            header=env.header,
            body=env.body,
            context=context,
            signed=signed,
            encrypted=tuple(el for el, _, _ in proc.decrypted),
            algorithms=algorithms,
            timestamp=proc.timestamp,
            signature=None if primary is None else primary[0],
            signature_key=None if primary is None else primary[1].origin,
            endorsing=endorsing,
            signature_confirmations=tuple(proc.confirmations),
            username_tokens=tuple(
                SupportingToken(token, any(el is s for s in signed), any(el is d for d, _, _ in proc.decrypted))
                for token, el in proc.usernames
            ),
        )


def _check_coverage(env: Envelope, proc: _Processor, signed: tuple[Element, ...], req: Requirements) -> None:
    def is_signed(el: Element) -> bool:
        return any(el is s for s in signed)

    if req.timestamp and proc.timestamp is None:
        raise InvalidSecurity("a Timestamp is required")
    if req.signature and req.signed_timestamp and proc.timestamp_el is not None and not is_signed(proc.timestamp_el):
        raise InvalidSecurity("the Timestamp is not signed")
    if req.signature and req.signed_body and not is_signed(env.body):
        raise InvalidSecurity("the Body is not signed")
    body_encrypted = any(el is env.body for el, _, _ in proc.decrypted)
    if req.encrypted_body and not body_encrypted:
        raise InvalidSecurity("the Body is not encrypted")
    if req.protected_body and not (body_encrypted or is_signed(env.body)):
        raise InvalidSecurity("the Body is neither signed nor encrypted")
    if env.header is not None and req.signature:
        for header in env.header:
            if not isinstance(header.tag, str) or header is proc.security:
                continue
            wanted = header.tag in req.signed_headers or (
                req.signed_addressing_headers and etree.QName(header).namespace in ns.WSA_NAMESPACES
            )
            if wanted and not is_signed(header):
                raise InvalidSecurity(f"header {header.tag} is not signed")
    for name in req.signed_headers:
        if env.header is None or env.header.find(name) is None:
            raise InvalidSecurity(f"required header {name} is missing")


def unprotect(
    data: bytes | Element,
    resolver: KeyResolver,
    requirements: Requirements | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> VerifiedMessage:
    """One-shot :meth:`Receiver.unprotect`; replay detection then spans only this call."""
    return Receiver(resolver, requirements, limits=limits).unprotect(data, now=now)
