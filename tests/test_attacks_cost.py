"""Issue 7, finding 3: unauthenticated CPU denial of service.  Anyone can make an EncryptedKey to a
service's certificate and sign with it, so nothing an attacker sends that way may cost much more than a
legitimate message of the same size: the Id index is linear, the signatures are few (one message signature
and those endorsing it), and their digests share one byte budget.  Each attack has a positive control."""

from __future__ import annotations

import time
from copy import deepcopy
from datetime import datetime, timezone

import pytest
from lxml import etree

from helpers import parse, rsa_identity, tostring
from wssc import namespaces as ns
from wssc.errors import InvalidSecurity
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import c14n
from wssc.security import dsig
from wssc.security.keys import EncryptedKeyProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.x509 import X509Token

SERVICE = rsa_identity("cost service")
#: what an anonymous attacker can do: its own EncryptedKey, its key signs directly
SIGN_WITH_OWN_KEY = ProtectionPolicy(encrypt=False, derived_keys=False)
REQUIREMENTS = Requirements(signed_addressing_headers=False)
NS = {"wsse": ns.WSSE, "ds": ns.DS, "wsu": ns.WSU}


def _receiver() -> Receiver:
    return Receiver(StaticKeys(key_pairs=[SERVICE]), REQUIREMENTS)


def _nested_body(depth: int, text_bytes: int) -> bytes:
    """A Body whose payload nests ``depth`` elements (each with a wsu:Id) around a large text."""
    opening = "".join(f'<m:n{i} xmlns:m="urn:m" u:Id="n{i}">' for i in range(depth))
    closing = "".join(f"</m:n{i}>" for i in reversed(range(depth)))
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:u="{ns.WSU}"><s:Header/><s:Body>{opening}{"x" * text_bytes}{closing}</s:Body></s:Envelope>'
    ).encode()


def _attacker_message(plain: bytes) -> tuple[etree._Element, bytes]:
    """A message signed with an EncryptedKey the attacker made, and that key."""
    reference = X509Token(SERVICE[0]).reference("thumbprint")
    ek, secret = EncryptedKey.create(SERVICE[0], reference, length=32)
    data = protect(plain, EncryptedKeyProtection(ek, secret), SIGN_WITH_OWN_KEY).data
    return parse(data), secret


def _timestamp_id(root: etree._Element) -> str:
    (value,) = root.xpath("//wsu:Timestamp/@wsu:Id", namespaces=NS)
    return str(value)


def _sign(root: etree._Element, secret: bytes, ids: list[str], signature_id: str) -> etree._Element:
    """A fresh signature with the attacker's key over the Timestamp and the elements ``ids`` name."""
    ids = [_timestamp_id(root), *ids]
    original = root.find(".//" + dsig.SIGNATURE_TAG)
    assert original is not None
    key_info = original.find(ns.qn(ns.DS, "KeyInfo"))
    assert key_info is not None
    key_info_xml = "".join(etree.tostring(c, encoding="unicode") for c in key_info)
    parts = []
    for value in ids:
        (el,) = root.xpath(f"//*[@wsu:Id='{value}' or @Id='{value}']", namespaces=NS)
        parts.append((value, c14n(el)))
    xml, _ = dsig.sign(
        parts, key=secret, method=alg.HMAC_SHA1, digest=alg.SHA1, key_info_xml=key_info_xml, signature_id=signature_id
    )
    return etree.fromstring(xml)


def test_attack_many_signatures_over_an_encrypted_key_anyone_can_make() -> None:
    root, secret = _attacker_message(_nested_body(30, 2000))
    _receiver().unprotect(tostring(root))  # positive control: one signature is a valid message
    original = root.find(".//" + dsig.SIGNATURE_TAG)
    assert original is not None
    extra = _sign(root, secret, [f"n{i}" for i in range(30)], "SIG-copy")
    for copy in range(60):
        signature = deepcopy(extra)
        signature.set("Id", f"SIG-copy-{copy}")  # the Id is outside SignedInfo: every copy still verifies
        original.addnext(signature)
    with pytest.raises(InvalidSecurity, match=r"second signature|too many signatures"):
        _receiver().unprotect(tostring(root))


def test_attack_nested_references_are_refused_before_any_digest() -> None:
    """Thirty references to nested elements of the Body, each digesting it again: ids are read only where
    message parts sit, so the nested elements are not found and nothing is digested twice."""
    root, secret = _attacker_message(_nested_body(30, 50_000))
    original = root.find(".//" + dsig.SIGNATURE_TAG)
    assert original is not None
    body = root.find(ns.qn(ns.SOAP12, "Body"))
    assert body is not None
    body_id = body.get(ns.WSU_ID)
    assert body_id is not None
    # positive control: the Body signed once is accepted
    original.getparent().replace(original, _sign(root, secret, [body_id], "SIG-1"))
    _receiver().unprotect(tostring(root))
    signature = root.find(".//" + dsig.SIGNATURE_TAG)
    assert signature is not None
    signature.getparent().replace(signature, _sign(root, secret, [body_id] + [f"n{i}" for i in range(30)], "SIG-2"))
    with pytest.raises(InvalidSecurity, match="resolves to nothing"):
        _receiver().unprotect(tostring(root))


def test_digest_budget_bounds_the_parts_a_signature_may_nest() -> None:
    """Where parts do nest (the Body and the EncryptedData of its content, under encrypt-before-sign), all
    signatures of a message share one digest budget; a tight one refuses the second pass over the Body."""
    from wssc.limits import Limits
    from wssc.security.policy import ProtectionOrder

    reference = X509Token(SERVICE[0]).reference("thumbprint")
    ek, secret = EncryptedKey.create(SERVICE[0], reference, length=32)
    policy = ProtectionPolicy(order=ProtectionOrder.ENCRYPT_BEFORE_SIGN, encrypt_signature=False, derived_keys=False)
    data = protect(_nested_body(1, 200_000), EncryptedKeyProtection(ek, secret), policy).data
    tight = Limits(digested_bytes_per_message_byte=1)
    receiver = Receiver(StaticKeys(key_pairs=[SERVICE]), REQUIREMENTS, limits=tight)
    receiver.unprotect(data)  # positive control: the Body once fits
    root = parse(data)
    body = root.find(ns.qn(ns.SOAP12, "Body"))
    assert body is not None
    content = body[0]
    body_id, content_id = body.get(ns.WSU_ID), content.get("Id")
    assert body_id and content_id
    signature = root.find(".//" + dsig.SIGNATURE_TAG)
    assert signature is not None
    signature.getparent().replace(signature, _sign(root, secret, [body_id, content_id], "SIG-2"))
    with pytest.raises(InvalidSecurity, match="digest too many bytes"):
        Receiver(StaticKeys(key_pairs=[SERVICE]), REQUIREMENTS, limits=tight).unprotect(tostring(root))


def _envelope_with_ids(count: int, both: bool) -> bytes:
    attributes = 'Id="p{i}" u:Id="q{i}"' if both else 'u:Id="q{i}" a="p{i}"'
    items = "".join(f"<m:i {attributes.format(i=i)}>{i}</m:i>" for i in range(count))
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:u="{ns.WSU}"><s:Header><wsse:Security xmlns:wsse="{ns.WSSE}"/></s:Header>'
        f'<s:Body><m:list xmlns:m="urn:m">{items}</m:list></s:Body></s:Envelope>'
    ).encode()


def _cost(data: bytes) -> float:
    receiver = Receiver(StaticKeys(), Requirements(timestamp=False))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with pytest.raises(InvalidSecurity):
            receiver.unprotect(data, now=datetime.now(timezone.utc))
        best = min(best, time.perf_counter() - start)
    return best


def test_attack_id_and_wsu_id_on_every_element_index_in_linear_time() -> None:
    """A complexity regression check, not a benchmark (see ``benchmarks/hostile.py``): indexing both Id
    attributes of 20,000 elements (about 1 MiB) costs about what indexing one of them costs; the union
    query it replaced made that about a hundred times more."""
    both, one = _envelope_with_ids(20_000, True), _envelope_with_ids(20_000, False)
    assert abs(len(both) - len(one)) < len(one) // 10
    assert _cost(both) < 5 * _cost(one)
