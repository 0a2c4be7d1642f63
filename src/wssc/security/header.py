"""Processing one ``wsse:Security`` header (WSS 1.1 sections 5-10), in document order as WCF and WSS4J do:
tokens are resolved when met (or when first referenced, for Lax layouts), ReferenceLists decrypt their
targets in place, signatures are verified over what is in the tree at that moment.  What was proven is
collected on the :class:`HeaderProcessor`; :mod:`wssc.security.unprotect` checks it against the caller's
requirements and builds the result.

Nothing expensive happens before the sender is authenticated, as far as the layout allows: the Timestamp
is checked first; the message signature's SignatureValue is verified (and its value checked against
replays) before the Body or any header outside the Security header is decrypted, so a captured message
with altered cipher text gets no decryption (nor padding) oracle: the second try is a replay.  What
an unauthenticated sender can make the receiver do is bounded: one EncryptedKey, a few signatures (one
message signature, the others endorsing it), a digest budget (:class:`~wssc.security.dsig.DigestBudget`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import namespaces as ns
from wssc.errors import (
    BadContextToken,
    FailedCheck,
    InvalidSecurity,
    MessageExpired,
    UnsupportedAlgorithm,
    UnsupportedSecurityToken,
)
from wssc.limits import REPLAY_WINDOW, Limits
from wssc.primitives import algorithms as alg
from wssc.primitives.algorithms import AlgorithmSuite
from wssc.primitives.xml import Element, b64decode, c14n
from wssc.primitives.xsdtime import parse_time
from wssc.security import dsig, xmlenc
from wssc.security.decrypted_document import DecryptedDocument
from wssc.security.keys import KeyResolver
from wssc.security.policy import Requirements
from wssc.security.soap import Envelope
from wssc.security.timestamp import TIMESTAMP_TAG, Timestamp
from wssc.security.token_keys import DKT_TAGS, SCT_TAGS, TokenKey, TokenKeys
from wssc.tokens.encrypted_key import EK_TAG
from wssc.tokens.reference import SecurityTokenReference
from wssc.tokens.username import USERNAME_TOKEN_TAG, UsernameToken
from wssc.tokens.x509 import BST_TAG
from wssc.versions import VERSIONS

_SIG_CONF = ns.qn(ns.WSSE11, "SignatureConfirmation")
_STRICT_NAMESPACES = frozenset({ns.WSSE, ns.WSSE11, ns.WSU, ns.DS, ns.XENC, *(v.sc for v in VERSIONS)})

def signature_methods(suite: AlgorithmSuite) -> frozenset[str]:
    """The suite's signature algorithms (WS-SP 1.2 section 6.1), and RSA-SHA256 wherever RSA-SHA1 is: a
    stronger asymmetric signature is no weakness (Mono's WCF endorses with it under Basic256); nothing weaker
    or of another kind is accepted."""
    return frozenset({suite.symmetric_signature, suite.asymmetric_signature, alg.RSA_SHA256})


def check_binding(signer: TokenKey, decryption_token: str) -> None:
    """Parts decrypted under ``decryption_token`` belong to the message ``signer`` signs: under a symmetric
    (HMAC) signature, the signer's own token; under an asymmetric one (WCF MutualCertificate), an
    EncryptedKey.  Parts grafted from another message stay sealed."""
    if signer.secret is not None and decryption_token != signer.token:
        raise InvalidSecurity("parts are encrypted under another token than the one that signs the message")
    if signer.secret is None and not decryption_token.startswith("ek:"):
        raise InvalidSecurity("an asymmetric message must be encrypted under an EncryptedKey")


#: called with the message signature's value once it is verified, before anything else is decrypted
#: (the receiver's replay check)
OnAuthenticated = Callable[[bytes], None]


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
        on_authenticated: OnAuthenticated | None = None,
    ) -> None:
        self.root, self.env, self.security = root, env, security
        self.req, self.limits, self.now = requirements, limits, now
        self.on_authenticated = on_authenticated
        self.ids: dict[str, Element] = {}
        self.tokens = TokenKeys(security, self.ids, resolver, requirements, limits, self.decrypt_reference)
        #: the message's bound on canonical bytes digested, charged by every reference of every signature
        self.budget = dsig.DigestBudget(limits.digest_budget(message_bytes))
        self.timestamp: Timestamp | None = None
        self.timestamp_el: Element | None = None
        self.signatures: list[tuple[dsig.VerifiedSignature, TokenKey]] = []
        #: the one signature that does not sign another signature (WS-SP 1.2 section 6.5: the message signature)
        self.primary: tuple[dsig.VerifiedSignature, TokenKey] | None = None
        #: the token of the message signature, once its SignatureValue verified
        self.signer: TokenKey | None = None
        self.decrypted: list[tuple[Element, str, TokenKey]] = []
        #: elements that came out of an EncryptedData (#Element), by identity
        self.decrypted_elements: set[int] = set()
        #: the one token every decryption key of this message comes from
        self.decryption_token: str | None = None
        #: EncryptedData outside the Security header (Body, headers), decrypted once the sender is authenticated
        self.deferred: list[tuple[Element, TokenKey | None]] = []
        self.confirmations: list[tuple[bytes | None, Element]] = []
        self.signed_plaintext: list[tuple[dsig.VerifiedSignature, Element]] = []
        #: a signed EncryptedData (encrypt-before-sign) -> the element it held, which stands in its place
        self.plaintext_of: dict[Element, Element] = {}
        self.usernames: list[tuple[UsernameToken, Element]] = []
        self.decrypted_ids: set[str] = set()
        #: replay detection for messages that are encrypted but not signed
        self.first_cipher_value: bytes | None = None
        #: the tree digests are computed on where a decrypted part's move could change a prefix
        self.decrypted_document = DecryptedDocument(root, limits, message_bytes)

    # -- ids -------------------------------------------------------------------------------------------
    def index_positions(self) -> None:
        """Record the ids of the elements a reference may name: the Body (and the EncryptedData of its
        content), the header blocks and the children of the Security header, the places of the message parts
        WS-SecurityPolicy signs and encrypts (SignedParts, EncryptedParts;
        :func:`wssc.security.unprotect._check_signed_position` refuses a signed element anywhere else).  Ids
        deeper in the tree are never read: thousands of them cost nothing, and a duplicate there cannot stand
        in for a part.  The same value twice among these is refused."""
        self.index(self.env.body)
        for content in self.env.body.iterchildren(xmlenc.ED_TAG):  # the Body's encrypted content
            self.index(content)
        if self.env.header is not None:
            for block in self.env.header.iterchildren(etree.Element):
                self.index(block)
        for child in self.security.iterchildren(etree.Element):
            self.index(child)

    def index(self, el: Element) -> None:
        """Record the wsu:Id and Id of one element (a part, or what an EncryptedData held in its place)."""
        for value in (el.get(ns.WSU_ID), el.get("Id")):
            if value is None:
                continue
            known = self.ids.get(value)
            if known is not None and known is not el:
                raise InvalidSecurity(f"duplicate id {value!r}")
            self.ids[value] = el

    def unindex(self, el: Element) -> None:
        """Forget the ids of an EncryptedData being decrypted (it leaves the document)."""
        for value in (el.get(ns.WSU_ID), el.get("Id")):
            if value is not None and self.ids.get(value) is el:
                del self.ids[value]

    # -- encryption --------------------------------------------------------------------------------------
    def decrypt_reference(self, uri: str, key: TokenKey | None = None) -> None:
        if not uri.startswith("#"):
            raise InvalidSecurity(f"DataReference {uri!r} is not a local reference")
        if uri[1:] in self.decrypted_ids:
            return  # a header EncryptedData met (and decrypted) before the ReferenceList that lists it
        ed = self.ids.get(uri[1:])
        if ed is None or ed.tag != xmlenc.ED_TAG:
            raise InvalidSecurity(f"DataReference {uri!r} does not name an EncryptedData")
        if self.signer is None and ed.getparent() is not self.security:
            # The Body and the headers wait until the message signature has authenticated the sender (and
            # been checked against replays); an (encrypted) signature in the header cannot wait.
            if all(ed is not waiting for waiting, _ in self.deferred):
                self.deferred.append((ed, key))
            return
        self.decrypt(ed, key)

    def _decrypt_deferred(self) -> None:
        """Decrypt what waited for authentication, in the order it was listed (a ReferenceList before the
        signature lists what the signature digests in plaintext, as in document-order processing)."""
        waiting, self.deferred = self.deferred, []
        for ed, key in waiting:
            if ed.getparent() is not None:
                self.decrypt(ed, key)

    def decrypt(self, ed: Element, key: TokenKey | None = None) -> None:
        info = xmlenc.parse_encrypted_data(ed)
        if info.key_reference is not None or key is None:
            key = self.tokens.resolve(info.key_reference)
        if key.secret is None:
            raise UnsupportedAlgorithm("encryption with an asymmetric key")
        self._check_cipher(info.algorithm)
        if self.signer is not None:
            check_binding(self.signer, key.token)  # before decrypting
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
            nodes = xmlenc.decrypt(info, key.secret, self.limits, self.decrypted_document.replacing)
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
                if len(nodes) == 1 and info.data_type != ns.XENC_CONTENT:
                    self.plaintext_of[ed] = nodes[0]
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
        if suite is not None and uri not in (suite.encryption, alg.gcm_variant(suite.encryption)):
            raise UnsupportedAlgorithm(f"encryption {uri!r} is not in the {suite.name} suite")

    # -- the header walk -----------------------------------------------------------------------------------
    def run(self) -> None:
        if len(self.security) > self.limits.max_security_header_elements:
            raise InvalidSecurity("too many elements in the Security header")
        self.index_positions()
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
            if tag in SCT_TAGS or tag in DKT_TAGS or tag in (EK_TAG, BST_TAG):
                self.tokens.token_key(child)
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
        self._decrypt_deferred()  # no message signature came (encrypt-only), or it digested cipher text

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

    def canonical(self, element: Element, prefixes: list[str] | None) -> bytes:
        """The exclusive c14n of ``element`` as the sender computed it: on its counterpart in the tree that has
        the decrypted parts as parsed (:mod:`wssc.security.decrypted_document`)."""
        return c14n(self.decrypted_document.counterpart(element), prefixes)

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
            key = self.tokens.resolve(ref)
            found.append(key)
            if key.public is not None:
                return key.public
            assert key.secret is not None
            return key.secret

        def authenticated(value: bytes) -> None:
            """The message signature's value verified: the sender holds the key.  Tell it a state its context
            has, check for a replay, then decrypt what waited, before the digests are computed."""
            if endorses:
                return
            key = found[0]
            state = key.origin.context and self.tokens.context_states.get(key.origin.context.identifier)
            if state:
                raise state  # authenticated under an expired context: now, and only now, say so
            self.signer = key
            if self.on_authenticated is not None:
                self.on_authenticated(value)
            self._decrypt_deferred()

        try:
            verified = dsig.verify(
                sig_el,
                self.ids,
                lookup,
                max_references=self.limits.max_signature_references,
                allowed_digests=None if suite is None else frozenset({suite.digest}),
                allowed_methods=None if suite is None else signature_methods(suite),
                budget=self.budget,
                on_value_verified=authenticated,
                canonical=self.canonical,
            )
        except FailedCheck as failed:
            raise (self._under_context(found[0], failed.detail) if found else failed) from None
        self.signatures.append((verified, found[0]))
        if not endorses:
            self.primary = (verified, found[0])
