"""XML Encryption of SOAP parts (XML Encryption 1.0/1.1 as profiled by WSS 1.1 section 9).

Hand-written because no maintained Python library implements XML-Enc with WS-Security key references;
ciphers come from `cryptography`, parsing of plaintext from the hardened parser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import FailedCheck, InvalidSecurity, UnsupportedAlgorithm, WsscError
from wssc.limits import Limits
from wssc.primitives import ciphers
from wssc.primitives.xml import (
    Element,
    append_text_before,
    b64decode,
    b64encode,
    escape_attr,
    escape_text,
    only_child,
    parse_fragment,
    remove_keeping_tail,
    required_child,
)
from wssc.tokens.reference import STR_TAG, SecurityTokenReference

ED_TAG = ns.qn(ns.XENC, "EncryptedData")
_ENC_METHOD = ns.qn(ns.XENC, "EncryptionMethod")
_CIPHER_DATA = ns.qn(ns.XENC, "CipherData")
_CIPHER_VALUE = ns.qn(ns.XENC, "CipherValue")
_KEY_INFO = ns.qn(ns.DS, "KeyInfo")
REFERENCE_LIST_TAG = ns.qn(ns.XENC, "ReferenceList")
DATA_REFERENCE_TAG = ns.qn(ns.XENC, "DataReference")


def encrypted_data_xml(
    ed_id: str, data_type: str, algorithm: str, key: bytes, plaintext: bytes, key_info_xml: str
) -> str:
    """Self-contained XML text of an xenc:EncryptedData (XML Encryption 3.4) holding ``plaintext``."""
    cipher_value = b64encode(ciphers.encrypt(algorithm, key, plaintext))
    return (
        f'<xenc:EncryptedData xmlns:xenc="{ns.XENC}" Id="{escape_attr(ed_id)}" Type="{data_type}">'
        f'<xenc:EncryptionMethod Algorithm="{algorithm}"/><ds:KeyInfo xmlns:ds="{ns.DS}">{key_info_xml}</ds:KeyInfo>'
        f"<xenc:CipherData><xenc:CipherValue>{cipher_value}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>"
    )


def content_bytes(parent: Element) -> bytes:
    """The serialised content of ``parent`` (text and children) as ``Type=#Content`` encrypts it."""
    # a carriage return travels as a character reference, or the receiver's parser turns it into a line feed
    # (XML 1.0 section 2.11) and the Body no longer matches its digest
    chunks = [escape_text(parent.text).encode("utf-8")] if parent.text else []
    chunks.extend(etree.tostring(child, encoding="utf-8", with_tail=True) for child in parent)
    return b"".join(chunks)


@dataclass(frozen=True)
class EncryptedDataInfo:
    """The parsed, not yet decrypted, form of an xenc:EncryptedData."""

    element: Element
    data_type: str | None
    algorithm: str
    key_reference: SecurityTokenReference | None
    cipher_value: bytes


def parse_encrypted_data(ed: Element) -> EncryptedDataInfo:
    """Read an EncryptedData (XML Encryption 3.4): EncryptionMethod, optional ds:KeyInfo, CipherData, in order."""
    if ed.tag != ED_TAG:
        raise InvalidSecurity(f"not an EncryptedData: {ed.tag}")
    children = [c for c in ed if isinstance(c.tag, str)]
    tags = [c.tag for c in children]
    if tags not in ([_ENC_METHOD, _CIPHER_DATA], [_ENC_METHOD, _KEY_INFO, _CIPHER_DATA]):
        raise InvalidSecurity("EncryptedData must hold EncryptionMethod, KeyInfo?, CipherData")
    method = children[0].get("Algorithm")
    if not method:
        raise UnsupportedAlgorithm("EncryptedData without EncryptionMethod Algorithm")
    key_ref = None
    if len(children) == 3:
        str_el = only_child(children[1], STR_TAG)
        if str_el is None:
            raise InvalidSecurity("EncryptedData KeyInfo without a SecurityTokenReference")
        key_ref = SecurityTokenReference.from_element(str_el)
    cipher_value = required_child(children[-1], _CIPHER_VALUE)
    return EncryptedDataInfo(ed, ed.get("Type"), method, key_ref, b64decode(cipher_value.text, "CipherValue"))


def decrypt(
    info: EncryptedDataInfo,
    key: bytes,
    limits: Limits,
    replacing: Callable[[Element, bytes], None] | None = None,
) -> list[Element]:
    """Decrypt in place: replace the EncryptedData by its plaintext nodes; returns the new elements.
    ``replacing`` is told the EncryptedData and its plaintext once it decrypted and parsed, before the nodes
    move (:class:`wssc.security.decrypted_document.DecryptedDocument` keeps the tree that has them as parsed).

    Every failure, cryptographic or XML, is the same ``wsse:FailedCheck`` (no decryption oracle).
    """
    ed = info.element
    parent = ed.getparent()
    if parent is None:
        raise InvalidSecurity("EncryptedData without a parent")
    if info.data_type not in (ns.XENC_ELEMENT, ns.XENC_CONTENT):
        raise UnsupportedAlgorithm(f"EncryptedData Type {info.data_type!r}")
    try:
        plaintext, padding_ok = ciphers.decrypt_unchecked(info.algorithm, key, info.cipher_value)
        # Parsed whatever the padding said, then refused: good and bad padding cost the same (no timing oracle).
        wrapper = parse_fragment(plaintext, parent.nsmap, limits)
    except UnsupportedAlgorithm:
        raise
    except WsscError:
        raise FailedCheck("decryption failed") from None
    nodes = list(wrapper)
    if not padding_ok or (info.data_type == ns.XENC_ELEMENT and len(nodes) != 1):
        raise FailedCheck("decryption failed")
    if replacing is not None:
        try:
            replacing(ed, plaintext)
        except WsscError:
            raise FailedCheck("decryption failed") from None  # as any other failure here: no oracle
    # the text before the first node, the whole plaintext when it is text alone (a Body of character data)
    append_text_before(ed, wrapper.text)
    for node in nodes:
        ed.addprevious(node)
    remove_keeping_tail(ed)
    return nodes
