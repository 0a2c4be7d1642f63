"""XML Signature over WS-Security parts (XML-DSig 1.0 as profiled by WSS 1.1 section 8 and WS-I BSP 1.1).

Hand-written because signxml does not sign or verify ``#wsu:Id`` references resolved inside a SOAP
envelope with a ``wsse:SecurityTokenReference`` KeyInfo and derived HMAC keys; canonicalisation is lxml's
exclusive c14n and every primitive is `cryptography`'s.

Verification is strict: exclusive c14n only (BSP R5404/R5423), no other transforms, ids resolved through
the caller's id map (duplicates already rejected), ``HMACOutputLength`` refused (CVE-2009-0217), and the
result names exactly the elements whose digests matched.
"""

from __future__ import annotations

import hmac as std_hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wssc import namespaces as ns
from wssc.errors import FailedCheck, InvalidSecurity, UnsupportedAlgorithm
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import Element, b64decode, b64encode, c14n, escape_attr, only_child, required_child
from wssc.tokens.reference import STR_TAG, SecurityTokenReference

SIGNATURE_TAG = ns.qn(ns.DS, "Signature")
_SIGNED_INFO = ns.qn(ns.DS, "SignedInfo")
_C14N_METHOD = ns.qn(ns.DS, "CanonicalizationMethod")
_SIG_METHOD = ns.qn(ns.DS, "SignatureMethod")
_REFERENCE = ns.qn(ns.DS, "Reference")
_TRANSFORMS = ns.qn(ns.DS, "Transforms")
_TRANSFORM = ns.qn(ns.DS, "Transform")
_DIGEST_METHOD = ns.qn(ns.DS, "DigestMethod")
_DIGEST_VALUE = ns.qn(ns.DS, "DigestValue")
_SIG_VALUE = ns.qn(ns.DS, "SignatureValue")
_KEY_INFO = ns.qn(ns.DS, "KeyInfo")
_INCLUSIVE = ns.qn(ns.EXC_C14N, "InclusiveNamespaces")


def digest_of(uri: str, data: bytes) -> bytes:
    """The digest ``uri`` (XML-DSig 6.2) of ``data``."""
    h = hashes.Hash(alg.digest_algorithm(uri))
    h.update(data)
    return h.finalize()


def hmac_value(method: str, key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, alg.hmac_algorithm(method))
    h.update(data)
    return h.finalize()


def sign(
    parts: Sequence[tuple[str, bytes]],
    *,
    key: bytes | rsa.RSAPrivateKey,
    method: str,
    digest: str,
    key_info_xml: str,
    signature_id: str | None = None,
) -> tuple[str, bytes]:
    """A ds:Signature over ``parts`` (``(wsu:Id, exclusive-c14n bytes)`` pairs): its XML text and its value.

    SignedInfo is written directly in its exclusive-c14n form, so the value is computed over the very
    bytes a verifier reconstructs, with no parse and re-canonicalisation in between.
    """
    refs = "".join(
        f'<ds:Reference URI="#{escape_attr(wsu_id)}"><ds:Transforms><ds:Transform Algorithm="{ns.EXC_C14N}">'
        f'</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="{digest}"></ds:DigestMethod>'
        f"<ds:DigestValue>{b64encode(digest_of(digest, data))}</ds:DigestValue></ds:Reference>"
        for wsu_id, data in parts
    )
    inner = (
        f'<ds:CanonicalizationMethod Algorithm="{ns.EXC_C14N}"></ds:CanonicalizationMethod>'
        f'<ds:SignatureMethod Algorithm="{method}"></ds:SignatureMethod>{refs}</ds:SignedInfo>'
    )
    data = f'<ds:SignedInfo xmlns:ds="{ns.DS}">{inner}'.encode()
    if isinstance(key, rsa.RSAPrivateKey):
        value = key.sign(data, padding.PKCS1v15(), _rsa_hash(method))
    else:
        value = hmac_value(method, key, data)
    sig_id = f' Id="{escape_attr(signature_id)}"' if signature_id else ""
    xml = (
        f'<ds:Signature xmlns:ds="{ns.DS}"{sig_id}><ds:SignedInfo>{inner}'
        f"<ds:SignatureValue>{b64encode(value)}</ds:SignatureValue>"
        f"<ds:KeyInfo>{key_info_xml}</ds:KeyInfo></ds:Signature>"
    )
    return xml, value


def _rsa_hash(method: str) -> hashes.HashAlgorithm:
    if method == alg.RSA_SHA1:
        return hashes.SHA1()
    if method == alg.RSA_SHA256:
        return hashes.SHA256()
    raise UnsupportedAlgorithm(f"signature method {method!r}")


@dataclass(frozen=True)
class VerifiedSignature:
    """What one ds:Signature proved: these elements, under this key, with these algorithms."""

    element: Element
    references: tuple[tuple[str, Element], ...]
    method: str
    digest: str
    key_reference: SecurityTokenReference | None
    value: bytes


class DigestBudget:
    """How many canonical bytes one message may still have digested (all its signatures together).

    A legitimate message digests each signed part once and its parts are disjoint, so it digests about its
    own size; a hostile one can make every reference name a large subtree (nested elements of the Body,
    say) and make a receiver canonicalise its input many times over.  The budget refuses that after at
    most one extra subtree, before its digest is computed again."""

    def __init__(self, limit: int) -> None:
        self.remaining = limit

    def spend(self, size: int) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise InvalidSecurity("the signatures of this message digest too many bytes")


#: resolves the KeyInfo STR (None when absent) to an HMAC key or an RSA public key
KeyLookup = Callable[[SecurityTokenReference | None, str], "bytes | rsa.RSAPublicKey"]


def _c14n_prefixes(method_el: Element) -> list[str] | None:
    inclusive = method_el.find(_INCLUSIVE)
    if inclusive is None:
        return None
    return (inclusive.get("PrefixList") or "").split()


def reference_elements(signed_info: Element, max_references: int) -> list[Element]:
    """The ds:Reference children of SignedInfo, at least one and at most ``max_references``."""
    references = list(signed_info.iterchildren(_REFERENCE))
    if not references:
        raise InvalidSecurity("ds:SignedInfo without references")
    if len(references) > max_references:
        raise InvalidSecurity("too many signature references")
    return references


def reference_uris(sig: Element, max_references: int) -> list[str]:
    """The URIs a ds:Signature references, read before anything is verified (to classify it cheaply)."""
    return [r.get("URI") or "" for r in reference_elements(required_child(sig, _SIGNED_INFO), max_references)]


def verify(
    sig: Element,
    ids: Mapping[str, Element],
    lookup: KeyLookup,
    *,
    max_references: int,
    allowed_digests: frozenset[str] | None = None,
    allowed_methods: frozenset[str] | None = None,
    budget: DigestBudget | None = None,
    on_value_verified: Callable[[bytes], None] | None = None,
    canonical: Callable[[Element, list[str] | None], bytes] = c14n,
) -> VerifiedSignature:
    """Verify ``sig``: the SignatureValue over SignedInfo first (then ``on_value_verified`` is told the value:
    the signer is authenticated, nothing is digested yet), then every Reference digest, each charged to
    ``budget``.  ``canonical`` is the exclusive c14n of an element with an InclusiveNamespaces PrefixList
    (the receiver's computes it on the tree its decrypted parts were parsed into, not moved into)."""
    signed_info = required_child(sig, _SIGNED_INFO)
    c14n_el = required_child(signed_info, _C14N_METHOD)
    if c14n_el.get("Algorithm") != ns.EXC_C14N:
        raise UnsupportedAlgorithm(f"canonicalization {c14n_el.get('Algorithm')!r}")
    method_el = required_child(signed_info, _SIG_METHOD)
    method = method_el.get("Algorithm") or ""
    if allowed_methods is not None and method not in allowed_methods:
        raise UnsupportedAlgorithm(f"signature method {method!r} is not allowed here")
    if len(method_el):
        raise InvalidSecurity("HMACOutputLength and other SignatureMethod parameters are refused")
    value = b64decode(required_child(sig, _SIG_VALUE).text, "SignatureValue")
    key_info = only_child(sig, _KEY_INFO)
    key_ref = None
    if key_info is not None:
        str_el = only_child(key_info, STR_TAG)
        if str_el is None:
            raise InvalidSecurity("ds:KeyInfo without a SecurityTokenReference")
        key_ref = SecurityTokenReference.from_element(str_el)
    key = lookup(key_ref, method)
    data = canonical(signed_info, _c14n_prefixes(c14n_el))
    if budget is not None:
        budget.spend(len(data))
    if isinstance(key, rsa.RSAPublicKey):
        try:
            key.verify(value, data, padding.PKCS1v15(), _rsa_hash(method))
        except InvalidSignature:
            raise FailedCheck("signature value mismatch") from None
    elif method in alg.HMACS:
        h = hmac.HMAC(key, alg.hmac_algorithm(method))
        h.update(data)
        try:
            h.verify(value)
        except InvalidSignature:
            raise FailedCheck("signature value mismatch") from None
    else:
        raise UnsupportedAlgorithm(f"signature method {method!r} for a symmetric key")
    if on_value_verified is not None:
        on_value_verified(value)

    references = reference_elements(signed_info, max_references)
    verified: list[tuple[str, Element]] = []
    digests: list[str] = []
    for ref in references:
        uri = ref.get("URI") or ""
        if not uri.startswith("#") or len(uri) < 2:
            raise InvalidSecurity(f"only same-document #id references are accepted, not {uri!r}")
        target = ids.get(uri[1:])
        if target is None:
            raise InvalidSecurity(f"signature reference {uri!r} resolves to nothing")
        # XML-DSig 4.3.3 (Reference): Transforms?, DigestMethod, DigestValue, in this order and nothing else.
        parts = [c for c in ref if isinstance(c.tag, str)]
        prefixes: list[str] | None = None
        if parts and parts[0].tag == _TRANSFORMS:
            steps = [c for c in parts.pop(0) if isinstance(c.tag, str)]  # processing instructions are no steps
            if len(steps) != 1 or steps[0].tag != _TRANSFORM or steps[0].get("Algorithm") != ns.EXC_C14N:
                raise UnsupportedAlgorithm("only the exclusive c14n transform is accepted")
            prefixes = _c14n_prefixes(steps[0])
        if len(parts) != 2 or parts[0].tag != _DIGEST_METHOD or parts[1].tag != _DIGEST_VALUE:
            raise InvalidSecurity("malformed ds:Reference")
        digest_uri = parts[0].get("Algorithm") or ""
        if allowed_digests is not None and digest_uri not in allowed_digests:
            raise UnsupportedAlgorithm(f"digest {digest_uri!r} is not allowed here")
        expected = b64decode(parts[1].text, "DigestValue")
        if any(target is seen for _, seen in verified):
            raise InvalidSecurity("the same element is referenced twice")
        canonical_form = canonical(target, prefixes)
        if budget is not None:
            budget.spend(len(canonical_form))
        if not std_hmac.compare_digest(digest_of(digest_uri, canonical_form), expected):
            raise FailedCheck(f"digest mismatch for {uri}")
        verified.append((uri[1:], target))
        digests.append(digest_uri)
    return VerifiedSignature(sig, tuple(verified), method, digests[0], key_ref, value)
