"""Random inputs for the core's differential test (:mod:`differential`): SOAP envelopes, protection policies,
security contexts and receiver requirements.

Every generator draws from a :class:`Source`, so that one generator serves two drivers: a seeded
``random.Random`` (fast, for the million-case script) and :class:`Drawn`, hypothesis's ``st.data()`` behind
the same four methods (slower, but it shrinks a failing case).  The envelopes exercise what a compiled
parser and canonicaliser could get wrong against lxml: SOAP 1.1 and 1.2, WS-Addressing and other header
blocks, namespace declarations at every level (unused ones, a default namespace, ``xmlns=""``, QName-like
text and attribute values), comments, processing instructions, CDATA, character references, whitespace,
unicode, ``wsu:Id`` attributes of the application's own, and (rarely) nesting past the depth limit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

from hypothesis import strategies as st

from wssc import namespaces as ns
from wssc.limits import MAX_XML_DEPTH
from wssc.primitives.algorithms import SUITES
from wssc.security.policy import ProtectionOrder, ProtectionPolicy, Requirements

T = TypeVar("T")


class Source(Protocol):
    """What the generators draw from (``random.Random`` has all four)."""

    def random(self) -> float: ...

    def randint(self, a: int, b: int) -> int: ...

    def choice(self, seq: Sequence[T]) -> T: ...

    def randbytes(self, n: int) -> bytes: ...


class Drawn:
    """A :class:`Source` over hypothesis's ``st.data()``: every draw is recorded, so failures shrink."""

    def __init__(self, data: st.DataObject) -> None:
        self._data = data

    def random(self) -> float:
        return self._data.draw(st.integers(0, 999)) / 1000

    def randint(self, a: int, b: int) -> int:
        return self._data.draw(st.integers(a, b))

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self._data.draw(st.integers(0, len(seq) - 1))]

    def randbytes(self, n: int) -> bytes:
        return self._data.draw(st.binary(min_size=n, max_size=n))


def seeded(r: Source) -> Source:
    """A plain ``random.Random`` seeded from ``r``: for the many small draws of an envelope's content, which
    cost hypothesis a tenth of a millisecond each (the case's structure is still drawn, and shrunk, one
    decision at a time; the content shrinks as a seed)."""
    return r if isinstance(r, random.Random) else random.Random(r.randint(0, 2**32 - 1))


SOAP_NAMESPACES = {"1.1": ns.SOAP11, "1.2": ns.SOAP12}
APP_NAMESPACES = ("urn:app", "http://example.org/app", "urn:other:x", "http://tempuri.org/", ns.WSU)
PREFIXES = ("a", "b", "p", "tns", "ns0", "x", "wsse", "ds", "u")
LOCAL_NAMES = ("item", "value", "Order", "x", "data", "Name", "Security", "Body", "Id")
TEXTS = (
    "",
    "hello",
    "  spaced  out  ",
    "\u00e9t\u00e9 \u4e2d\u6587 \U0001f600",
    "a&b<c>d\"e'f",
    "line\nbreak\r\ncr\rend",
    "\t",
    "p:qname",
    "tns:value",
    "]]>",
    "1000",
    "\u2028\u00a0",
)
MAX_HEADERS = 5


def escape_text(text: str, r: Source) -> str:
    """Text content, escaped, sometimes with a character reference instead of one character."""

    def esc(part: str) -> str:
        out = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return out.replace("\r", "&#13;") if r.random() < 0.7 else out

    if text and r.random() < 0.1:
        i = r.randint(0, len(text) - 1)
        return esc(text[:i]) + f"&#x{ord(text[i]):X};" + esc(text[i + 1 :])
    return esc(text)


def escape_attr(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


@dataclass
class _Writer:
    r: Source
    depth_budget: int
    ids: list[str]

    def declarations(
        self, scope: dict[str | None, str], chance: float, default: bool = True
    ) -> tuple[str, dict[str | None, str]]:
        """Namespace declarations for an element (some unused, some redundant), and the scope they make."""
        r = self.r
        decls: dict[str | None, str] = {}
        while r.random() < chance and len(decls) < 3:
            decls[r.choice(PREFIXES)] = r.choice(APP_NAMESPACES)
        if default and r.random() < chance / 3:
            decls[None] = r.choice((*APP_NAMESPACES, ""))
        text = "".join(
            f' xmlns="{escape_attr(uri)}"' if p is None else f' xmlns:{p}="{escape_attr(uri)}"'
            for p, uri in decls.items()
        )
        return text, {**scope, **decls}

    def qname_like(self, scope: dict[str | None, str]) -> str:
        prefixes = [p for p in scope if p]
        return (self.r.choice(prefixes) if prefixes else "zz") + ":" + self.r.choice(LOCAL_NAMES)

    def attributes(self, scope: dict[str | None, str]) -> str:
        r = self.r
        seen: set[tuple[str, str]] = set()
        out = []
        for _ in range(r.randint(0, 3) if r.random() < 0.5 else 0):
            prefixes = [p for p, uri in scope.items() if p and uri]
            kind = r.random()
            if kind < 0.15:
                name, expanded = "xml:lang", ("xml", "lang")
                value = r.choice(("en", "fr-CA", ""))
            elif kind < 0.25:
                name, expanded = "wsu:Id", (ns.WSU, "Id")
                if scope.get("wsu") != ns.WSU:
                    continue
                value = r.choice(self.ids) if self.ids and r.random() < 0.2 else f"app-{r.randint(0, 99)}"
                self.ids.append(value)
            elif kind < 0.6 and prefixes:
                p = r.choice(prefixes)
                local = r.choice(LOCAL_NAMES)
                name, expanded = f"{p}:{local}", (scope[p], local)
                value = self.qname_like(scope) if r.random() < 0.3 else r.choice(TEXTS)
            else:
                local = r.choice(LOCAL_NAMES)
                name, expanded = local, ("", local)
                value = self.qname_like(scope) if r.random() < 0.3 else r.choice(TEXTS)
            if expanded in seen:
                continue
            seen.add(expanded)
            quote = '"' if r.random() < 0.8 else "'"
            escaped = escape_attr(value) if quote == '"' else escape_attr(value).replace("'", "&apos;")
            out.append(f"{' ' * r.randint(1, 2)}{name}={quote}{escaped}{quote}")
        return "".join(out)

    def misc(self) -> str:
        """A comment, a processing instruction, CDATA or whitespace between elements."""
        r = self.r
        kind = r.randint(0, 4)
        if kind == 0:
            return "<!--" + r.choice(("", " note ", " -x ", "\u00e9")) + "-->"
        if kind == 1:
            return "<?" + r.choice(("pi", "app-data", "x")) + r.choice(("", " some data", ' a="b"')) + "?>"
        if kind == 2:
            return "<![CDATA[" + r.choice(("", "<not markup/> & more", "x]]y", "\u4e2d")) + "]]>"
        return r.choice((" ", "\n  ", "\r\n", "\t"))

    def element(self, scope: dict[str | None, str], depth: int) -> str:
        r = self.r
        decls, inner = self.declarations(scope, 0.3)
        prefixes = [p for p, uri in inner.items() if p and uri]
        if prefixes and r.random() < 0.6:
            name = r.choice(prefixes) + ":" + r.choice(LOCAL_NAMES)
        else:
            name = r.choice(LOCAL_NAMES)
        start = f"<{name}{decls}{self.attributes(inner)}{' ' if r.random() < 0.1 else ''}"
        if r.random() < 0.2:
            return start + "/>"
        parts = []
        for _ in range(r.randint(0, 4)):
            kind = r.random()
            if kind < 0.4 and depth < self.depth_budget:
                parts.append(self.element(inner, depth + 1))
            elif kind < 0.8:
                parts.append(escape_text(self.qname_like(inner) if r.random() < 0.15 else r.choice(TEXTS), r))
            else:
                parts.append(self.misc())
        return start + ">" + "".join(parts) + f"</{name}>"


@dataclass(frozen=True)
class EnvelopeSpec:
    data: bytes
    soap: str
    #: Clark names of the header blocks, in order
    headers: tuple[str, ...]


def envelope(r: Source) -> EnvelopeSpec:
    """A random SOAP 1.1 or 1.2 envelope (well-formed; occasionally not a valid one for protect to refuse)."""
    soap = r.choice(("1.1", "1.2"))
    soap_ns = SOAP_NAMESPACES[soap]
    sp = r.choice(("s", "soap", "env", "S", "SOAP-ENV", ""))
    deep = r.random() < 0.02
    writer = _Writer(r, MAX_XML_DEPTH + 3 if deep else r.randint(0, 4), [])
    scope: dict[str | None, str] = {None: soap_ns} if not sp else {sp: soap_ns}
    decls, scope = writer.declarations(scope, 0.4, default=bool(sp))
    wsa = r.choice(sorted(ns.WSA_NAMESPACES))
    wsa_prefix = r.choice(("a", "wsa", "w"))
    if wsa_prefix in scope or r.random() < 0.3:
        env_wsa = ""
    else:
        env_wsa = f' xmlns:{wsa_prefix}="{wsa}"'
        scope[wsa_prefix] = wsa
    if r.random() < 0.3 and "u" not in scope:
        decls += f' xmlns:u="{ns.WSU}"'
        scope["u"] = ns.WSU
    if r.random() < 0.2 and "wsu" not in scope:
        decls += f' xmlns:wsu="{ns.WSU}"'
        scope["wsu"] = ns.WSU
    soap_decl = f' xmlns="{soap_ns}"' if not sp else f' xmlns:{sp}="{soap_ns}"'
    q = (sp + ":") if sp else ""

    def ws() -> str:
        return writer.misc() if r.random() < 0.15 else ""

    headers: list[str] = []
    names: list[str] = []
    header_xml = ""
    if r.random() < 0.85:
        hdecls, hscope = writer.declarations(scope, 0.15)
        for _ in range(r.randint(0, MAX_HEADERS)):
            if r.random() < 0.6:
                local = r.choice(("Action", "To", "MessageID", "RelatesTo", "ReplyTo", "From"))
                decl = "" if hscope.get(wsa_prefix) == wsa else f' xmlns:{wsa_prefix}="{wsa}"'
                mu = f' {q}mustUnderstand="{r.choice(("1", "true", "0"))}"' if r.random() < 0.3 and q else ""
                if local in ("ReplyTo", "From"):
                    content = f"<{wsa_prefix}:Address>{escape_text(wsa + '/anonymous', r)}</{wsa_prefix}:Address>"
                else:
                    content = escape_text(r.choice(("urn:uuid:1", "http://example.org/op", "\u00e9", "")), r)
                headers.append(f"<{wsa_prefix}:{local}{decl}{mu}>{content}</{wsa_prefix}:{local}>")
                names.append(f"{{{wsa}}}{local}")
            else:
                uri = r.choice(APP_NAMESPACES[:4])
                local = r.choice(LOCAL_NAMES)
                body = writer.element({**hscope, "h": uri}, 1) if r.random() < 0.5 else escape_text(r.choice(TEXTS), r)
                headers.append(f'<h:{local} xmlns:h="{uri}"{writer.attributes(hscope)}>{body}</h:{local}>')
                names.append(f"{{{uri}}}{local}")
        header_xml = f"<{q}Header{hdecls}>" + "".join(ws() + h for h in headers) + ws() + f"</{q}Header>"
    body_id = ""
    id_prefix = next((p for p in ("u", "wsu") if scope.get(p) == ns.WSU), None)
    if id_prefix and r.random() < 0.3:
        body_id = f' {id_prefix}:Id="{r.choice(("Body-app", "app-1", "_0"))}"'
    bdecls, bscope = writer.declarations(scope, 0.2)
    content = "".join(
        writer.element(bscope, 1) if r.random() < 0.8 else escape_text(r.choice(TEXTS), r)
        for _ in range(r.randint(0, 3))
    )
    body = f"<{q}Body{bdecls}{body_id}>{content}</{q}Body>"
    text = f"<{q}Envelope{soap_decl}{env_wsa}{decls}>{ws()}{header_xml}{ws()}{body}{ws()}</{q}Envelope>"
    if r.random() < 0.05:
        text = f'<?xml version="1.0" encoding="{r.choice(("utf-8", "UTF-8"))}"?>' + text
    return EnvelopeSpec(text.encode("utf-8"), soap, tuple(names))


def _subset(r: Source, items: Sequence[str], extra: str) -> tuple[str, ...]:
    picked = [i for i in items if r.random() < 0.3]
    if r.random() < 0.1:
        picked.append(extra)
    return tuple(dict.fromkeys(picked))


SUITE_NAMES = sorted(SUITES)


def policy(r: Source, headers: Sequence[str]) -> ProtectionPolicy:
    """A random ProtectionPolicy: every field of it."""
    sign, encrypt = r.choice(((True, True), (True, True), (True, False), (False, True)))
    return ProtectionPolicy(  # (the key's length is chosen to fit in differential.generate)
        suite=SUITES[r.choice(SUITE_NAMES)],
        sign=sign,
        encrypt=encrypt,
        derived_keys=r.random() < 0.75,
        encrypt_signature=r.random() < 0.6,
        order=r.choice((ProtectionOrder.SIGN_BEFORE_ENCRYPT, ProtectionOrder.ENCRYPT_BEFORE_SIGN)),
        include_timestamp=r.random() < 0.85,
        timestamp_ttl=r.choice((timedelta(minutes=5), timedelta(seconds=1), timedelta(hours=1), timedelta(0))),
        sign_body=r.random() < 0.85,
        sign_addressing_headers=r.random() < 0.8,
        signed_headers=_subset(r, headers, "{urn:app}missing"),
        encrypted_headers=_subset(r, headers, "{urn:app}missing"),
        protect_tokens=r.random() < 0.3,
        use_gcm=r.random() < 0.3,
    )


def requirements(r: Source, p: ProtectionPolicy, headers: Sequence[str], identifier: str) -> tuple[Requirements, bool]:
    """What a receiver demands: mostly what ``p`` gives (True: the message should pass), sometimes more or other."""
    signs_body = p.sign and p.sign_body
    matching = Requirements(
        signature=p.sign,
        signed_body=signs_body,
        protected_body=signs_body or p.encrypt,
        timestamp=p.include_timestamp,
        signed_timestamp=True,
        signed_addressing_headers=p.sign and p.sign_addressing_headers,
        encrypted_body=p.encrypt and r.random() < 0.5,
        signed_headers=tuple(h for h in p.signed_headers if h in headers) if p.sign and r.random() < 0.5 else (),
        derived_keys=p.derived_keys and r.random() < 0.5,
        max_clock_skew=r.choice((timedelta(minutes=5), timedelta(0), timedelta(hours=1))),
        suite=p.suite if r.random() < 0.5 else None,
        detect_replays=r.random() < 0.8,
        context_identifier=identifier if r.random() < 0.3 else None,
        encrypted_signature=(
            p.sign
            and p.encrypt
            and p.encrypt_signature
            and p.order is ProtectionOrder.SIGN_BEFORE_ENCRYPT
            and r.random() < 0.5
        ),
    )
    if r.random() < 0.8:
        return matching, True
    fields = dict(matching.__dict__)
    for _ in range(r.randint(1, 3)):
        name = r.choice(
            (
                "signature", "signed_body", "protected_body", "timestamp", "signed_timestamp",
                "signed_addressing_headers", "encrypted_body", "derived_keys", "transport_protected",
                "encrypted_signature", "suite", "context_identifier", "signed_headers",
            )
        )  # fmt: skip
        if name == "suite":
            fields[name] = SUITES[r.choice(SUITE_NAMES)]
        elif name == "context_identifier":
            fields[name] = r.choice((identifier, "urn:uuid:other", None))
        elif name == "signed_headers":
            absent = ("{urn:app}absent",) if r.random() < 0.3 else ()
            fields[name] = tuple(headers[: r.randint(0, len(headers))]) + absent
        else:
            fields[name] = not fields[name]
    return Requirements(**fields), False
