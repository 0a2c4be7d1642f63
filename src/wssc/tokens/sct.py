"""wsc:SecurityContextToken (WS-SC 1.3 section 3; Feb 2005 section 3).

Unknown extension children (WCF's ``dnse:Cookie`` among them) are kept verbatim, and a parsed token
re-serialises as the exact element it came from, so a client can echo a token it cannot read.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurityToken
from wssc.primitives.xml import Element
from wssc.versions import SC_1_3, SCVersion, by_sc_namespace


def new_identifier() -> str:
    """A fresh context Identifier, ``urn:uuid:...`` as WCF writes it."""
    return "urn:uuid:" + str(uuid.uuid4())


def is_absolute_uri(value: str) -> bool:
    """An absolute URI as an SCT Identifier must be (WS-SC 1.3 section 3): a scheme, a colon, no spaces."""
    scheme, sep, rest = value.partition(":")
    return bool(sep and rest and scheme[:1].isalpha()) and not any(c.isspace() for c in value)


@dataclass(frozen=True, eq=False)
class SecurityContextToken:
    identifier: str
    instance: str | None = None
    wsu_id: str | None = None
    version: SCVersion = SC_1_3
    #: extension children after Identifier/Instance, kept as detached copies
    extensions: tuple[Element, ...] = ()
    #: the element this token was parsed from, re-emitted verbatim by :meth:`to_element`
    source: Element | None = field(default=None, repr=False)

    def to_element(self, parent: Element | None = None) -> Element:
        if self.source is not None:
            el = copy.deepcopy(self.source)
            if parent is not None:
                parent.append(el)
            return el
        tag = self.version.sc_qname("SecurityContextToken")
        # WCF's prefixes rather than lxml's ns0/ns1, so that traces read like WCF's own.
        nsmap = {"c": self.version.sc, "u": ns.WSU} if self.wsu_id else {"c": self.version.sc}
        el = etree.Element(tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, tag, nsmap=nsmap)
        if self.wsu_id:
            el.set(ns.WSU_ID, self.wsu_id)
        etree.SubElement(el, self.version.sc_qname("Identifier")).text = self.identifier
        if self.instance is not None:
            etree.SubElement(el, self.version.sc_qname("Instance")).text = self.instance
        for ext in self.extensions:
            el.append(copy.deepcopy(ext))
        return el

    @classmethod
    def from_element(cls, el: Element, *, keep_source: bool = True) -> SecurityContextToken:
        """Parse an SCT of either version.

        ``keep_source`` keeps a copy of the element (and its extensions) for verbatim echo; a receiver
        that only needs Identifier and Instance passes False and saves the copies.
        """
        version = by_sc_namespace(etree.QName(el).namespace)
        if version is None or etree.QName(el).localname != "SecurityContextToken":
            raise InvalidSecurityToken(f"not a SecurityContextToken: {el.tag}")
        identifier = instance = None
        extensions = []
        id_tag, inst_tag = version.sc_qname("Identifier"), version.sc_qname("Instance")
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if child.tag == id_tag:
                if identifier is not None:
                    raise InvalidSecurityToken("SCT with two Identifiers")
                identifier = (child.text or "").strip()
            elif child.tag == inst_tag:
                if instance is not None:
                    raise InvalidSecurityToken("SCT with two Instances")
                instance = (child.text or "").strip()
            elif keep_source:
                extensions.append(copy.deepcopy(child))
        if not identifier or not is_absolute_uri(identifier):
            raise InvalidSecurityToken("SCT Identifier missing or not an absolute URI")
        return cls(
            identifier=identifier,
            instance=instance,
            wsu_id=el.get(ns.WSU_ID),
            version=version,
            extensions=tuple(extensions),
            source=copy.deepcopy(el) if keep_source else None,
        )

    def with_id(self, wsu_id: str) -> SecurityContextToken:
        """The same token under another wsu:Id (a fresh element, the source is dropped)."""
        return SecurityContextToken(self.identifier, self.instance, wsu_id, self.version, self.extensions)
