"""Hardened XML parsing and exclusive canonicalisation (lxml / libxml2).

The parser refuses DTDs outright (SOAP 1.1 section 3 and SOAP 1.2 part 1 section 5 forbid them in a
SOAP message), never expands entities, never touches the network, and enforces a size and a depth limit.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Final

from lxml import etree

from wssc.errors import InvalidSecurity
from wssc.limits import DEFAULT_LIMITS, Limits
from wssc.namespaces import WSU_ID

Element = etree._Element


class _DenyExternal(etree.Resolver):
    """Refuse every external load (DTD subsets, parameter entities), local files included."""

    def resolve(self, system_url: str, public_id: str, context: object = None) -> None:
        raise MalformedXML(f"external resource {system_url!r} refused")


#: One parser per thread: lxml serialises the threads that share a parser object, holding the interpreter
#: meanwhile, so with a shared one a large (hostile) document held up every other request's parse; a
#: thread's own parser lets libxml2 parse without the GIL.
_PARSERS = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_blank_text=False,
            # Comments are outside every digest (exclusive c14n without comments), so one inside signed text
            # would split the text an application reads ("1<!---->000" reads as "1") without breaking the
            # signature: the tree holds only what a signature can cover, the text around a comment one node.
            remove_comments=True,
            collect_ids=False,
        )
        parser.resolvers.add(_DenyExternal())
        _PARSERS.parser = parser
        # lxml hands libxml2 only the InclusiveNamespaces prefixes its thread's dictionary already holds, so the
        # default namespace's "" (``#default``) would be dropped from c14n until some document with xmlns=""
        # had been parsed in the thread: the same reference would digest one way in a fresh thread and another
        # later.  Parsing one such document now makes every canonicalisation in this thread honour it.
        etree.fromstring(b'<wssc-prime xmlns=""/>', parser)
    return parser


_UTF16_32_BOMS: Final = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)


def _as_utf8(data: bytes) -> bytes:
    """Transcode UTF-16/32 input (XML 1.0 appendix F detection) to UTF-8 so byte-level checks see it all."""
    if data[:1] == b"<" and data[1:2] not in (b"\x00", b""):
        return data  # the common case: ASCII-compatible, no byte order mark
    for prefix, codec in _UTF16_32_BOMS:
        if data.startswith(prefix):
            try:
                text = data.decode(codec).lstrip("\ufeff")
            except UnicodeDecodeError:
                raise MalformedXML("undecodable input") from None
            if text.startswith("<?xml"):
                end = text.find("?>")
                if end < 0:
                    raise MalformedXML("unterminated XML declaration")
                text = text[end + 2 :]
            return text.encode("utf-8")
    if data[:4] == b"\x4c\x6f\xa7\x94":  # EBCDIC "<?xm"
        raise MalformedXML("EBCDIC input is not accepted")
    return data


#: per thread: lxml lets one thread at a time evaluate a given XPath object (a shared probe would make every
#: request wait for the deepest document in flight)
_DEPTH_PROBES = threading.local()


_NAMESPACE_DOMAIN: Final = etree.ErrorDomains.NAMESPACE
_ERROR_LEVEL: Final = etree.ErrorLevels.ERROR


class MalformedXML(InvalidSecurity):
    """The input is not a well-formed, DTD-free XML document within the limits."""


def _depth_probe(depth: int) -> etree.XPath:
    probes: dict[int, etree.XPath] | None = getattr(_DEPTH_PROBES, "by_depth", None)
    if probes is None:
        probes = _DEPTH_PROBES.by_depth = {}
    probe = probes.get(depth)
    if probe is None:
        # True when an element exists at depth + 1: one walk over the tree, in C.
        probe = probes[depth] = etree.XPath("boolean(/*" + "/*" * depth + ")")
    return probe


def check_depth(root: Element, max_depth: int) -> None:
    """Reject a tree nested deeper than ``max_depth`` elements."""
    if _depth_probe(max_depth)(root):
        raise MalformedXML(f"XML nested deeper than {max_depth} elements")


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS, *, depth_checked: bool = True) -> Element:
    """Parse an untrusted document and return its root element.

    ``depth_checked=False`` leaves the depth check to the caller (who checks the tree the result ends in).
    """
    if len(data) > limits.max_message_bytes:
        raise MalformedXML(f"message of {len(data)} bytes exceeds {limits.max_message_bytes}")
    data = _as_utf8(data)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise MalformedXML("DTDs are not allowed in SOAP messages")
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError) as exc:
        raise MalformedXML(f"not well-formed XML: {exc}") from None
    if root is None:
        raise MalformedXML("empty document")
    if any(e.domain == _NAMESPACE_DOMAIN and e.level >= _ERROR_LEVEL for e in parser.error_log):
        # lxml raises on libxml2's *last* message only: an undeclared prefix followed by a warning (a relative
        # namespace URI) would leave an element literally named "w:a" in no namespace, which another parser
        # (WSS4J, WCF, a compiled core) reads differently or refuses (Namespaces in XML 1.0 section 5).
        raise MalformedXML("a namespace error: an undeclared prefix or a malformed declaration")
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise MalformedXML("DTDs are not allowed in SOAP messages")
    if depth_checked:
        check_depth(root, limits.max_xml_depth)
    return root


def parse_fragment(data: bytes, nsmap: Mapping[str | None, str], limits: Limits = DEFAULT_LIMITS) -> Element:
    """Parse decrypted content: zero or more elements (and text) in the namespace context ``nsmap``, returned
    as the children (and ``text``: the character data before the first child) of a wrapper element.

    XML Encryption section 4.2: the plaintext of ``Type=#Content`` or ``#Element`` data is a fragment
    whose namespace prefixes may be declared only on ancestors of the EncryptedData.  Wrapping it in
    an element that redeclares the in-scope namespaces is how xmlsec and Santuario parse it too.
    The caller checks the depth of the tree the fragment is inserted into.
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data or b"<?xml" in data[:64]:
        raise MalformedXML("decrypted data is not an XML fragment")
    return parse(_fragment_head(tuple(nsmap.items())) + data + b"</wssc-fragment>", limits, depth_checked=False)


@functools.lru_cache(maxsize=256)
def _fragment_head(declarations: tuple[tuple[str | None, str], ...]) -> bytes:
    """The wrapper start tag redeclaring ``declarations``; a peer uses the same few namespace contexts."""
    decls = []
    for prefix, uri in declarations:
        escaped = uri.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        decls.append(f' xmlns="{escaped}"' if prefix is None else f' xmlns:{prefix}="{escaped}"')
    return ("<wssc-fragment" + "".join(decls) + ">").encode()


def c14n(element: Element, inclusive_prefixes: Iterable[str] | None = None) -> bytes:
    """Exclusive XML canonicalisation without comments (xml-exc-c14n), honouring an InclusiveNamespaces PrefixList."""
    prefixes = None
    if inclusive_prefixes is not None:
        prefixes = [p if p != "#default" else "" for p in inclusive_prefixes] or None
        if prefixes and "" in prefixes:
            _parser()  # this thread's dictionary must hold "" for lxml to pass #default on (see _parser)
    try:
        return etree.tostring(
            element, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=prefixes
        )
    except etree.C14NError:  # e.g. a relative namespace URI, which c14n refuses
        raise InvalidSecurity("the element cannot be canonicalised") from None


def append_text_before(element: Element, text: str | None) -> None:
    """Append ``text`` to the character data just before ``element``: its previous sibling's tail, or its parent's
    text when it is the first child (lxml keeps text between elements as the tail of the one before)."""
    if not text:
        return
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
        return
    parent = element.getparent()
    if parent is None:
        raise ValueError("a root element has no text before it")
    parent.text = (parent.text or "") + text


def remove_keeping_tail(element: Element) -> None:
    """Remove ``element`` from its parent but not the text after it (lxml would take its tail along)."""
    parent = element.getparent()
    if parent is None:
        raise ValueError("a root element cannot be removed")
    append_text_before(element, element.tail)
    parent.remove(element)


class ElementXML(bytes):
    """One well-formed element, serialised by wssc (:meth:`VerifiedMessage.payload_xml
    <wssc.security.result.VerifiedMessage.payload_xml>` makes them): written into an envelope as it is, where
    other bytes are parsed first to check that they hold one element and nothing around it.  Making one of other
    bytes vouches for that."""

    __slots__ = ()


def standalone_c14n(element: Element) -> bytes:
    """The Canonical XML of ``element`` with every namespace in scope declared on it, as the compiled core writes
    it (``wssc_core::c14n::inclusive::standalone``): lxml writes a subelement so, and its canonical form is that
    of the bytes parsed again.  Not canonicalised in place, where libxml2 reads the descendants' scope in the
    whole tree and can write an ``xmlns=""`` that takes one out of the default namespace the element declares;
    nor a copy, which keeps only the declarations names use, not those a QName in content needs.  Written in
    UTF-8: in lxml's default ASCII a non-ASCII character of a name becomes a character reference, not XML."""
    alone = etree.fromstring(etree.tostring(element, encoding="utf-8", with_tail=False), _parser())
    return etree.tostring(alone, method="c14n")


def serialize(element: Element) -> bytes:
    """Serialise an element (and its subtree) as UTF-8 without an XML declaration."""
    return etree.tostring(element, encoding="utf-8")


def b64decode(text: str | None, what: str = "value") -> bytes:
    """Strict base64 decoding of an element's text (whitespace allowed, as XML Schema base64Binary)."""
    if text is None:
        raise InvalidSecurity(f"empty base64 {what}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:  # line-wrapped values (XML Schema base64Binary allows whitespace)
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecurity(f"bad base64 in {what}") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def only_child(parent: Element, tag: str) -> Element | None:
    """The single child ``tag`` of ``parent``, None if absent; more than one is malformed."""
    found = parent.findall(tag)  # a Clark name matches direct children only
    if len(found) > 1:
        raise InvalidSecurity(f"more than one {tag} in {parent.tag}")
    return found[0] if found else None


def required_child(parent: Element, tag: str) -> Element:
    child = only_child(parent, tag)
    if child is None:
        raise InvalidSecurity(f"{parent.tag} lacks {tag}")
    return child


_ASCII_DIGITS: Final = re.compile("[0-9]+")


def is_ascii_digits(text: str) -> bool:
    """True for ``[0-9]+`` only: ``str.isdigit`` also accepts other scripts' and superscript digits."""
    return _ASCII_DIGITS.fullmatch(text) is not None


def local_id(element: Element) -> str | None:
    """The element's wsu:Id, or its unqualified Id (XML-Enc and XML-DSig elements)."""
    return element.get(WSU_ID) or element.get("Id")


_ATTR_ESCAPES: Final = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
)
_TEXT_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})


_NEEDS_ATTR_ESCAPE: Final = re.compile('[&<"\t\n\r]')


def escape_attr(value: str) -> str:
    """Escape an attribute value exactly as canonical XML writes it (C14N 1.0 section 2.2)."""
    return value.translate(_ATTR_ESCAPES) if _NEEDS_ATTR_ESCAPE.search(value) else value


_NEEDS_TEXT_ESCAPE: Final = re.compile("[&<>\r]")


def escape_text(value: str) -> str:
    """Escape character data exactly as canonical XML writes it (C14N 1.0 section 2.2)."""
    # translate() walks the text through a dict, a character at a time: only for the text that needs it
    return value.translate(_TEXT_ESCAPES) if _NEEDS_TEXT_ESCAPE.search(value) else value
