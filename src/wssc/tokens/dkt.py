"""wsc:DerivedKeyToken and implied derived keys (WS-SC 1.3 section 7; Feb 2005 section 7).

Derivation is P_SHA1(secret, label || nonce) from byte ``Offset`` (or ``Generation x Length``), ``Length``
bytes long (default 32).  Writers emit ``Offset``, never ``Generation``, because WSS4J and Metro ignore
Generation (SPEC-NOTES section 4).  Receivers enforce WCF's limits on offset, label and nonce.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurityToken, UnsupportedAlgorithm
from wssc.limits import DEFAULT_LIMITS, DERIVATION_NONCE_LENGTH, Limits
from wssc.primitives.psha1 import derive_key
from wssc.primitives.xml import Element, b64decode, b64encode, escape_attr, is_ascii_digits
from wssc.tokens.reference import SecurityTokenReference
from wssc.versions import DEFAULT_LABEL, SC_1_3, VERSIONS, SCVersion

DEFAULT_LENGTH = 32
_P_SHA1_URIS = frozenset(v.p_sha1 for v in VERSIONS)
_STR_TAG = ns.qn(ns.WSSE, "SecurityTokenReference")
_FIELDS = ("Generation", "Offset", "Length", "Label", "Nonce")
#: DerivedKeyToken tag -> (version, {child tag -> field name})
_DKT_TAGS = {v.sc_qname("DerivedKeyToken"): (v, {v.sc_qname(name): name for name in _FIELDS}) for v in VERSIONS}


def _unsigned(text: str | None, what: str) -> int:
    """xs:unsignedLong: ASCII digits only (``str.isdigit`` also accepts other scripts' digits)."""
    value = (text or "").strip()
    if not is_ascii_digits(value) or len(value) > 20:
        raise InvalidSecurityToken(f"DerivedKeyToken {what} is not an unsigned integer")
    return int(value)


@dataclass(frozen=True)
class DerivedKeyToken:
    reference: SecurityTokenReference | None
    nonce: bytes
    length: int | None = None
    offset: int | None = None
    generation: int | None = None
    label: str | None = None
    wsu_id: str | None = None
    algorithm: str | None = None
    version: SCVersion = SC_1_3

    @property
    def effective_length(self) -> int:
        return DEFAULT_LENGTH if self.length is None else self.length

    @property
    def byte_offset(self) -> int:
        """Offset, or Generation x Length (WS-SC 1.3 section 7.1), or 0."""
        if self.offset is not None:
            return self.offset
        if self.generation is not None:
            return self.generation * self.effective_length
        return 0

    def check_limits(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Apply WCF's receive limits (``MaximumKeyDerivation*``)."""
        length = self.effective_length
        if not 1 <= length <= limits.max_derived_key_length:
            raise InvalidSecurityToken(f"derived key length {length} out of range")
        if self.byte_offset > limits.max_derivation_offset:
            raise InvalidSecurityToken(f"derivation offset {self.byte_offset} above {limits.max_derivation_offset}")
        if self.label is not None and len(self.label) > limits.max_derivation_label:
            raise InvalidSecurityToken("derivation label too long")
        if not 1 <= len(self.nonce) <= limits.max_derivation_nonce:
            raise InvalidSecurityToken("derivation nonce missing or too long")
        if self.algorithm is not None and self.algorithm not in _P_SHA1_URIS:
            raise UnsupportedAlgorithm(f"key derivation {self.algorithm!r}")

    def derive(self, secret: bytes, limits: Limits = DEFAULT_LIMITS) -> bytes:
        """The derived key bytes from the base ``secret``."""
        self.check_limits(limits)
        label = (DEFAULT_LABEL if self.label is None else self.label).encode("utf-8")
        return derive_key(secret, label, self.nonce, self.effective_length, self.byte_offset)

    @classmethod
    def create(
        cls,
        reference: SecurityTokenReference,
        length: int,
        *,
        version: SCVersion = SC_1_3,
        wsu_id: str | None = None,
        offset: int = 0,
        nonce: bytes | None = None,
        label: str | None = None,
    ) -> DerivedKeyToken:
        """A new token with a fresh 16-byte nonce (WCF's length) that writes Offset and Length explicitly."""
        return cls(
            reference=reference,
            nonce=os.urandom(DERIVATION_NONCE_LENGTH) if nonce is None else nonce,
            length=length,
            offset=offset,
            label=label,
            wsu_id=wsu_id,
            version=version,
        )

    def to_element(self, parent: Element | None = None) -> Element:
        """Serialise in schema order: STR, Generation|Offset, Length, Label, Nonce (no Properties: WCF rejects it)."""
        v = self.version
        tag = v.sc_qname("DerivedKeyToken")
        el = etree.Element(tag) if parent is None else etree.SubElement(parent, tag)
        if self.wsu_id:
            el.set(ns.WSU_ID, self.wsu_id)
        if self.algorithm:
            el.set("Algorithm", self.algorithm)
        if self.reference is not None:
            self.reference.to_element(el)
        if self.generation is not None and self.offset is None:
            etree.SubElement(el, v.sc_qname("Generation")).text = str(self.generation)
        elif self.offset is not None:
            etree.SubElement(el, v.sc_qname("Offset")).text = str(self.offset)
        if self.length is not None:
            etree.SubElement(el, v.sc_qname("Length")).text = str(self.length)
        if self.label is not None:
            etree.SubElement(el, v.sc_qname("Label")).text = self.label
        etree.SubElement(el, v.sc_qname("Nonce")).text = b64encode(self.nonce)
        return el

    def to_xml(self) -> str:
        """Self-contained XML text of :meth:`to_element` (same content), the fast path for outgoing messages."""
        if self.label is not None or self.algorithm is not None or self.reference is None:
            return etree.tostring(self.to_element(), encoding="unicode")
        wsu_id = f' xmlns:wsu="{ns.WSU}" wsu:Id="{escape_attr(self.wsu_id)}"' if self.wsu_id else ""
        parts = [f'<wsc:DerivedKeyToken xmlns:wsc="{self.version.sc}"{wsu_id}>', self.reference.to_xml()]
        if self.generation is not None and self.offset is None:
            parts.append(f"<wsc:Generation>{self.generation}</wsc:Generation>")
        elif self.offset is not None:
            parts.append(f"<wsc:Offset>{self.offset}</wsc:Offset>")
        if self.length is not None:
            parts.append(f"<wsc:Length>{self.length}</wsc:Length>")
        parts.append(f"<wsc:Nonce>{b64encode(self.nonce)}</wsc:Nonce></wsc:DerivedKeyToken>")
        return "".join(parts)

    @classmethod
    def from_element(cls, el: Element) -> DerivedKeyToken:
        """Parse either version; children in schema order, each at most once (WS-SC 1.3 section 7)."""
        found = _DKT_TAGS.get(el.tag)
        if found is None:
            raise InvalidSecurityToken(f"not a DerivedKeyToken: {el.tag}")
        version, field_tags = found
        reference = None
        fields: dict[str, Element] = {}
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            name = field_tags.get(tag)
            if name is not None:
                if name in fields:
                    raise InvalidSecurityToken(f"DerivedKeyToken with two {name}")
                fields[name] = child
            elif tag == _STR_TAG and reference is None and not fields:
                reference = SecurityTokenReference.from_element(child)
            elif tag == version.sc_qname("Properties"):
                # WCF refuses Properties too (SPEC-NOTES section 4); shared properties are not supported.
                raise InvalidSecurityToken("DerivedKeyToken Properties are not supported")
            else:
                raise InvalidSecurityToken(f"unexpected {tag} in DerivedKeyToken")
        if "Generation" in fields and "Offset" in fields:
            raise InvalidSecurityToken("DerivedKeyToken has both Generation and Offset")
        if "Nonce" not in fields:
            raise InvalidSecurityToken("DerivedKeyToken without Nonce")

        def number(name: str) -> int | None:
            return _unsigned(fields[name].text, name) if name in fields else None

        return cls(
            reference=reference,
            nonce=b64decode(fields["Nonce"].text, "wsc:Nonce"),
            length=number("Length"),
            offset=number("Offset"),
            generation=number("Generation"),
            label=(fields["Label"].text or "") if "Label" in fields else None,
            wsu_id=el.get(ns.WSU_ID),
            algorithm=el.get("Algorithm"),
            version=version,
        )


def implied(reference: SecurityTokenReference) -> DerivedKeyToken:
    """The derived key an STR with ``wsc:Nonce``/``wsc:Length`` attributes implies (WS-SC 1.3 section 7.3)."""
    if reference.implied_nonce is None:
        raise InvalidSecurityToken("STR does not imply a derived key")
    return DerivedKeyToken(
        reference=replace(reference, implied_nonce=None, implied_length=None, implied_version=None),
        nonce=reference.implied_nonce,
        length=reference.implied_length,
        version=reference.implied_version or SC_1_3,
    )
