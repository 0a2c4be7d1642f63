"""Mutations of protected messages for the core's differential test (:mod:`differential`).

Each mutation takes the message bytes and a :class:`~diff_messages.Source` and returns new bytes with a
short description.  Some break the message (truncation, bit flips, a wrong key is elsewhere), some are
attacks the verifier must refuse (reordered, duplicated, moved or swapped elements, a second Security
header, an actor, wrapped ids), and some change nothing a verifier may care about (a comment inside signed
text, CDATA for text, a redundant namespace declaration, a UTF-8 BOM, character references): there the two
paths must accept alike and show the same verified view.  The byte-level ones also produce what the core
must refuse before parsing (docs/core.md, "one source of truth" 5): another encoding, UTF-16, a DTD,
entities.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

from diff_messages import APP_NAMESPACES, PREFIXES, Source
from lxml import etree

from wssc import namespaces as ns

Mutation = Callable[[bytes, Source], tuple[bytes, str]]
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)
_SECURITY = ns.qn(ns.WSSE, "Security")
_START_TAG = re.compile(rb"<([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)([^<>]*?)(/?)>")
_TEXT = re.compile(rb">([^<>]+)<")
_PREFIX_DECL = re.compile(rb"xmlns:([A-Za-z_][\w.\-]*)=")


def _pos(r: Source, data: bytes) -> int:
    return r.randint(0, max(len(data) - 1, 0))


def truncate(data: bytes, r: Source) -> tuple[bytes, str]:
    at = _pos(r, data)
    return data[:at], f"truncate at {at}"


def flip(data: bytes, r: Source) -> tuple[bytes, str]:
    if not data:
        return data, "flip (empty)"
    at, bit = _pos(r, data), r.randint(0, 7)
    return data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1 :], f"flip bit {bit} of byte {at}"


def insert(data: bytes, r: Source) -> tuple[bytes, str]:
    at = _pos(r, data)
    junk = r.randbytes(r.randint(1, 4))
    extra = r.choice((b" ", b"\x00", b"<", b">", b"&", b"\xff", b"\xc3", b"'", b'"', b"/", junk))
    return data[:at] + extra + data[at:], f"insert {extra!r} at {at}"


def delete(data: bytes, r: Source) -> tuple[bytes, str]:
    at = _pos(r, data)
    n = r.randint(1, 8)
    return data[:at] + data[at + n :], f"delete {n} bytes at {at}"


def declaration(data: bytes, r: Source) -> tuple[bytes, str]:
    """An XML declaration naming some encoding, sometimes with the document transcoded to it."""
    encoding = r.choice(("utf-8", "UTF-8", "iso-8859-1", "us-ascii", "utf-16", "windows-1252", "UTF-16LE"))
    decl = f'<?xml version="1.0" encoding="{encoding}"?>'.encode()
    if encoding.lower().startswith("utf-16") and r.random() < 0.5:
        codec = "utf-16" if encoding == "utf-16" else "utf-16-le"
        try:
            return (decl.decode() + data.decode("utf-8")).encode(codec), f"declaration {encoding}, transcoded"
        except UnicodeDecodeError:
            pass
    return decl + (b"\n" if r.random() < 0.5 else b"") + data, f"declaration {encoding}"


def bom(data: bytes, r: Source) -> tuple[bytes, str]:
    kind = r.choice(("utf-8", "utf-16-le", "utf-16-be", "utf-8-twice"))
    if kind == "utf-8":
        return b"\xef\xbb\xbf" + data, "UTF-8 BOM"
    if kind == "utf-8-twice":
        return b"\xef\xbb\xbf\xef\xbb\xbf" + data, "two UTF-8 BOMs"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return b"\xff\xfe" + data, "UTF-16 BOM on UTF-8 bytes"
    codec = "utf-16-le" if kind == "utf-16-le" else "utf-16-be"
    mark = b"\xff\xfe" if kind == "utf-16-le" else b"\xfe\xff"
    return mark + text.encode(codec), f"{kind} BOM, transcoded"


def dtd(data: bytes, r: Source) -> tuple[bytes, str]:
    """A DTD (internal subset, entity declarations) and sometimes entity references in the text."""
    subset = r.choice(
        (b"", b' [<!ENTITY e "x">]', b" [<!ATTLIST Body Id ID #IMPLIED>]", b' SYSTEM "file:///etc/passwd"')
    )
    out = b"<!DOCTYPE Envelope" + subset + b">" + data
    if r.random() < 0.5:
        out, _ = entity(out, r)
    return out, f"DTD {subset!r}"


def entity(data: bytes, r: Source) -> tuple[bytes, str]:
    """An entity reference in a text node: predefined, character (equivalent text) or undeclared."""
    texts = list(_TEXT.finditer(data))
    if not texts:
        return data, "entity (no text)"
    m = r.choice(texts)
    ref = r.choice((b"&e;", b"&amp;", b"&#65;", b"&#x4E2D;", b"&lt;", b"&undeclared;"))
    at = r.randint(m.start(1), m.end(1))
    return data[:at] + ref + data[at:], f"entity {ref!r} at {at}"


def char_reference(data: bytes, r: Source) -> tuple[bytes, str]:
    """A character of a text node written as a character reference: the same document."""
    texts = [m for m in _TEXT.finditer(data) if any(c not in b"&;#" for c in m.group(1))]
    if not texts:
        return data, "char reference (no text)"
    m = r.choice(texts)
    at = r.randint(m.start(1), m.end(1) - 1)
    if data[at : at + 1] in (b"&", b";", b"#") or data[at] >= 0x80:
        return data, "char reference (skipped)"
    return data[:at] + f"&#{data[at]};".encode() + data[at + 1 :], f"char reference at {at}"


def comment_in_text(data: bytes, r: Source) -> tuple[bytes, str]:
    """A comment (or PI) inside a text node, signed text included: outside every digest, must change nothing."""
    texts = list(_TEXT.finditer(data))
    if not texts:
        return data, "comment (no text)"
    m = r.choice(texts)
    at = r.randint(m.start(1), m.end(1))
    if b"&" in data[max(at - 8, 0) : at]:
        at = m.start(1)
    what = r.choice((b"<!---->", b"<!-- x -->", b"<?pi data?>"))
    return data[:at] + what + data[at:], f"insert {what!r} in text at {at}"


def cdata(data: bytes, r: Source) -> tuple[bytes, str]:
    """A text node written as CDATA (same characters)."""
    texts = [m for m in _TEXT.finditer(data) if b"&" not in m.group(1) and b"]]>" not in m.group(1)]
    if not texts:
        return data, "cdata (no text)"
    m = r.choice(texts)
    return data[: m.start(1)] + b"<![CDATA[" + m.group(1) + b"]]>" + data[m.end(1) :], f"CDATA at {m.start(1)}"


def start_tag(data: bytes, r: Source) -> tuple[bytes, str]:
    """Namespace games on one start tag: a redundant or conflicting declaration, a default namespace,
    ``xmlns=""``, a duplicate declaration, whitespace inside the tag."""
    tags = [m for m in _START_TAG.finditer(data) if not m.group(1).startswith((b"?", b"!"))]
    if not tags:
        return data, "start tag (none)"
    if r.random() < 0.3:  # the Envelope, Header or Body, most often
        tags = tags[:3] + [m for m in tags if m.group(1).endswith((b":Header", b":Body", b"Security"))]
    m = r.choice(tags)
    name = m.group(1)
    prefix = name.split(b":")[0] if b":" in name else None
    uri = r.choice(APP_NAMESPACES).encode()
    declared = _PREFIX_DECL.findall(data[: m.start()]) or [b"wsse"]
    games = (
        (b' xmlns="' + uri + b'"', "default namespace"),
        (b' xmlns=""', 'xmlns=""'),
        (b" xmlns:" + r.choice(PREFIXES).encode() + b'="' + uri + b'"', "unused declaration"),
        (b" xmlns:" + r.choice(declared) + b'="' + uri + b'"', "rebound prefix"),
        (b" xmlns:" + (prefix or b"q") + b'="' + uri + b'"', "own prefix rebound"),
        (b"  ", "whitespace in tag"),
        (b' xmlns:d="urn:d" xmlns:d="urn:d"', "duplicate declaration"),
        (b' xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"', "SOAP 1.1 declared"),
    )
    text, what = r.choice(games)
    if what == "own prefix rebound" and prefix is not None:
        # redeclare the element's own prefix to the same URI it has (must change nothing) or another
        same = re.search(rb"xmlns:" + re.escape(prefix) + rb'="([^"]*)"', data[: m.end()])
        if same and r.random() < 0.6:
            text, what = b" xmlns:" + prefix + b'="' + same.group(1) + b'"', "own prefix redeclared"
    at = m.start() + 1 + len(name)
    return data[:at] + text + data[at:], f"{what} on <{name.decode(errors='replace')}>"


def rename_prefix(data: bytes, r: Source) -> tuple[bytes, str]:
    """Rename a prefix everywhere (declarations, tags, attributes): the same document; or only in some places."""
    declared = sorted(set(_PREFIX_DECL.findall(data)))
    if not declared:
        return data, "rename prefix (none)"
    old = r.choice(declared)
    new = r.choice((b"zz", b"s", b"wsse", b"a", b"xenc"))
    pattern = re.compile(rb"(?<=[<\s/])" + re.escape(old) + rb"(?=:)|(?<=xmlns:)" + re.escape(old) + rb"(?==)")
    count = 0 if r.random() < 0.8 else 1
    return pattern.sub(new, data, count=count), f"prefix {old!r} -> {new!r}{' once' if count else ''}"


# --- tree mutations (lxml; the document is re-serialised, which itself changes nothing signed) ---------------


def _tree(data: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        return None


def _security(root: etree._Element) -> etree._Element | None:
    return next(root.iter(_SECURITY), None)


def _groups(root: etree._Element) -> list[etree._Element]:
    """Parents whose children's order matters: Header, Security, SignedInfo, ReferenceList, Body, ..."""
    return [e for e in root.iter() if isinstance(e.tag, str) and len([c for c in e if isinstance(c.tag, str)]) >= 1]


def _children(parent: etree._Element) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str)]


def tree(data: bytes, r: Source) -> tuple[bytes, str]:
    root = _tree(data)
    if root is None:
        return data, "tree (not well-formed)"
    groups = _groups(root)
    if not groups:
        return data, "tree (flat)"
    security = _security(root)
    if security is not None and r.random() < 0.4:
        parent = security if r.random() < 0.6 or security.getparent() is None else security.getparent()
    else:
        parent = r.choice(groups)
    kids = _children(parent)
    kind = r.choice(("swap", "duplicate", "delete", "move", "second-security", "actor", "swap-ids", "wrap", "attr"))
    what = f"{kind} in {etree.QName(parent).localname}"
    if kind == "swap" and len(kids) >= 2:
        a, b = r.choice(kids), r.choice(kids)
        if a is not b:
            marker = etree.Element("marker")
            b.addprevious(marker)
            a.addprevious(b)
            marker.addprevious(a)
            parent.remove(marker)
    elif kind == "duplicate" and kids:
        c = r.choice(kids)
        parent.insert(r.randint(0, len(parent)), copy.deepcopy(c))
    elif kind == "delete" and kids:
        parent.remove(r.choice(kids))
    elif kind == "move" and kids:
        c = r.choice(kids)
        target = r.choice(groups)
        if c not in target.iterancestors() and c is not target:
            target.insert(r.randint(0, len(target)), c)
    elif kind == "second-security" and security is not None and security.getparent() is not None:
        extra = copy.deepcopy(security) if r.random() < 0.5 else etree.Element(_SECURITY)
        if r.random() < 0.4:
            extra.set(r.choice((ns.qn(ns.SOAP11, "actor"), ns.qn(ns.SOAP12, "role"))), r.choice(("urn:other", "")))
        security.getparent().insert(r.randint(0, len(security.getparent())), extra)
    elif kind == "actor" and security is not None:
        attr = r.choice((ns.qn(ns.SOAP11, "actor"), ns.qn(ns.SOAP12, "role"), "actor"))
        security.set(attr, r.choice(("urn:other", "", "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver")))
        what = f"actor {attr}"
    elif kind == "swap-ids":
        carriers = [e for e in root.iter() if isinstance(e.tag, str) and (e.get(ns.WSU_ID) or e.get("Id"))]
        if len(carriers) >= 2:
            a, b = r.choice(carriers), r.choice(carriers)
            ka = ns.WSU_ID if a.get(ns.WSU_ID) else "Id"
            kb = ns.WSU_ID if b.get(ns.WSU_ID) else "Id"
            va, vb = a.get(ka), b.get(kb)
            if r.random() < 0.5:
                a.set(ka, vb or "")
                b.set(kb, va or "")
            else:
                a.set(ka, vb or "")  # two elements with one id
    elif kind == "wrap" and kids:
        c = r.choice(kids)
        wrapper = etree.Element(r.choice(("{urn:app}Wrapper", parent.tag if isinstance(parent.tag, str) else "w")))
        c.addprevious(wrapper)
        wrapper.append(c)
    elif kind == "attr":
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        e = r.choice(elements)
        if e.attrib and r.random() < 0.5:
            name = r.choice(list(e.attrib))
            e.set(name, r.choice(("", "#", "x", ns.XENC + "aes128-cbc", ns.DS + "hmac-sha1", e.get(name, "") + "x")))
            what = f"attribute {name} of {etree.QName(e).localname}"
        elif e.attrib:
            name = r.choice(list(e.attrib))
            del e.attrib[name]
            what = f"delete attribute {name} of {etree.QName(e).localname}"
    return etree.tostring(root), what


BYTE_MUTATIONS: tuple[Mutation, ...] = (truncate, flip, insert, delete)
#: keep the message well-formed and often valid: a comment, CDATA or a character reference changes nothing
#: signed; a processing instruction in signed text or a renamed prefix does (c14n keeps both)
GENTLE_MUTATIONS: tuple[Mutation, ...] = (comment_in_text, cdata, char_reference, rename_prefix)
SYNTAX_MUTATIONS: tuple[Mutation, ...] = (declaration, bom, dtd, entity, start_tag)
ALL: tuple[Mutation, ...] = BYTE_MUTATIONS + GENTLE_MUTATIONS + SYNTAX_MUTATIONS + (tree, tree, tree)


def mutate(data: bytes, r: Source) -> tuple[bytes, list[str]]:
    """No mutation 30% of the time and only gentle ones 20% (the accepting paths), else one to three of
    :data:`ALL`."""
    draw = r.random()
    if draw < 0.3:
        return data, []
    pool = GENTLE_MUTATIONS if draw < 0.5 else ALL
    done = []
    for _ in range(r.randint(1, 3 if pool is ALL else 2)):
        data, what = r.choice(pool)(data, r)
        done.append(what)
    return data, done
