"""The message as its decryption parses it: the tree digests of decrypted content are computed on.

XML Encryption 1.0 section 4.5 has the decryptor put the plaintext where the EncryptedData stood, parsed in the
namespace context of its parent.  The receiver does that on its lxml tree by moving the nodes parsed from the
plaintext into place (:func:`wssc.security.xmlenc.decrypt`), and lxml re-points the namespace of every node it
moves by URI alone: where one namespace has two prefixes in scope there (``a`` and ``ns3`` for WS-Addressing, as
Metro writes, or a prefix and the default namespace, as WCF writes an AppliesTo's EndpointReference), a moved
element may change prefix or lose its declaration.  Its exclusive c14n (Exc-C14N section 3: the prefixes as
written) then differs from the sender's, and a digest the sender computed honestly fails.

No move avoids that, so where it could happen a second tree is kept, made by parsing and never by moving: the
message as received, and at each decryption its bytes with the EncryptedData replaced by the plaintext, parsed
again.  Every prefix and declaration is there as the sender wrote it.  The receiver's tree and this one have
the same shape (elements and processing instructions, child by child), so a part's counterpart here is found by
its path, and its digest is computed on the counterpart.  Both trees were parsed from the same bytes, so the
counterpart holds the same names, attributes and text; only prefixes may differ.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from lxml import etree

from wssc.errors import InvalidSecurity
from wssc.limits import Limits
from wssc.primitives.xml import Element, parse, remove_keeping_tail, serialize

#: a namespace declaration as written in plaintext (XML 1.0 [25] Eq; Namespaces in XML 1.0 [1]-[3]): a text or a
#: comment that only looks like one makes the check below answer "could", never the other way round
_DECLARATION: Final = re.compile(rb"""xmlns(?::([^\s=]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def could_reprefix(parent: Element, plaintext: bytes) -> bool:
    """Whether moving nodes parsed from ``plaintext`` under ``parent`` could change a prefix or drop a
    declaration.  lxml's moves pick a declaration by URI, so only a namespace with two prefixes (the default
    namespace counting as one) among those in scope at ``parent`` and those the plaintext declares is at risk,
    and only where the plaintext declares it, or names an element or attribute in it, which it can only do with
    one of those prefixes.  A Signature decrypted into a Security header that binds wsu again, as WSS4J's and
    wssc's do, names nothing in it: no second tree for it."""
    scope = parent.nsmap
    declarations: list[tuple[bytes, bytes, bytes]] = _DECLARATION.findall(plaintext)
    if not declarations and len(set(scope.values())) == len(scope):
        return False  # the common case, at once: one prefix per namespace in scope, none declared
    prefixes: dict[bytes, set[bytes | None]] = {}
    for bound_prefix, bound_uri in scope.items():
        prefixes.setdefault(bound_uri.encode(), set()).add(None if bound_prefix is None else bound_prefix.encode())
    declared_here: set[bytes] = set()
    for declared_prefix, double_quoted, single_quoted in declarations:
        written = double_quoted or single_quoted
        if b"&" in written:
            return True  # a character reference in the URI: not compared as written
        prefixes.setdefault(written, set()).add(declared_prefix or None)
        declared_here.add(written)
    for uri, bound in prefixes.items():
        if len(bound) < 2:
            continue
        if uri in declared_here or None in bound:
            return True  # declared in the plaintext (a declaration lxml may drop), or the default namespace
        if any(_named_with(prefix, plaintext) for prefix in bound if prefix is not None):
            return True
    return False


#: the bytes a name's character can be (Namespaces in XML 1.0 [4] NCName, a non-ASCII one as any byte of its UTF-8)
_NAME_BYTES: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") | frozenset(
    range(0x80, 0x100)
)


def _named_with(prefix: bytes, plaintext: bytes) -> bool:
    """Whether ``prefix:`` occurs in ``plaintext`` other than as the end of a longer name: in a tag, an attribute,
    or a QName-valued attribute or text (text that only looks like one answers yes, never the other way
    round)."""
    needle = prefix + b":"
    at = plaintext.find(needle)
    while at >= 0:
        if at == 0 or plaintext[at - 1] not in _NAME_BYTES:
            return True
        at = plaintext.find(needle, at + 1)
    return False


class DecryptedDocument:
    """The faithful counterpart of a receiver's tree (module docstring), made at the first decryption that
    could change a prefix and kept in step with every decryption after it."""

    def __init__(self, root: Element, limits: Limits, message_bytes: int | None = None) -> None:
        #: the receiver's tree, whose decrypted nodes are moved into place
        self.root = root
        self.limits = limits
        #: the same message parsed with its plaintext in place (None while no decryption could re-prefix)
        self.copy: Element | None = None
        #: bytes this message may still have parsed again: each decryption parses the whole message anew, so
        #: a message of many encrypted parts would cost their number times its size; bounded as the bytes its
        #: signatures may digest are (``Limits.digest_budget``), which a legitimate message's few encrypted
        #: parts stay well within
        self.remaining = limits.digest_budget(message_bytes)

    def replacing(self, encrypted_data: Element, plaintext: bytes) -> None:
        """Called as ``encrypted_data`` (in the receiver's tree) is about to be replaced by the nodes parsed from
        ``plaintext``: the counterpart tree gets the plaintext in its place, by parsing."""
        parent = encrypted_data.getparent()
        if parent is None:
            return
        if self.copy is None:
            if not could_reprefix(parent, plaintext):
                return
            # no decryption so far could re-prefix, so the receiver's tree still reads as received
            self.copy = self._parsed(serialize(self.root))
        counterpart = self.counterpart(encrypted_data)
        # a marker no message can hold (128 random bits in its name) where the EncryptedData stood, its text
        # after it kept, then the plaintext spliced into the serialisation in the marker's place
        marker = etree.Element(f"wssc-plaintext-{secrets.token_hex(16)}")
        counterpart.addprevious(marker)
        remove_keeping_tail(counterpart)
        data = serialize(self.copy)
        written = b"<" + marker.tag.encode() + b"/>"
        if data.count(written) != 1:
            raise AssertionError("the plaintext marker is not in the serialisation once")
        self.copy = self._parsed(data.replace(written, plaintext, 1))

    def _parsed(self, data: bytes) -> Element:
        self.remaining -= len(data)
        if self.remaining < 0:
            raise InvalidSecurity("the encrypted parts of this message are too many to parse again")
        # the depth is checked on the receiver's tree, which has the same shape
        return parse(data, self.limits, depth_checked=False)

    def counterpart(self, element: Element) -> Element:
        """``element``'s counterpart in the faithful tree (itself while there is none, or when it is not in the
        receiver's tree)."""
        if self.copy is None:
            return element
        path: list[int] = []
        node = element
        while node is not self.root:
            parent = node.getparent()
            if parent is None:
                return element
            path.append(parent.index(node))
            node = parent
        counterpart = self.copy
        for index in reversed(path):
            counterpart = counterpart[index]
        return counterpart
