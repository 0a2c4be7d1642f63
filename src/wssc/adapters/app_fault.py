"""Application faults: a handler's SOAP fault, sent protected under the caller's context.

A :class:`~wssc.adapters.asgi.WsscApp` handler raises :class:`ApplicationFault` to answer with a SOAP fault of
its own (WCF's ``FaultException``); the app signs and encrypts it under the request's context like any answer,
with HTTP status 500 (SOAP 1.1 section 6.2; what WCF sends), so only the caller can read it and knows the
service wrote it.  The client verifies and decrypts it and hands it on (zeep raises ``zeep.exceptions.Fault``
with its code, reason and detail).  Faults of wssc's own (WS-Security, WS-SC, WS-Trust) stay unprotected, with
the specification's code and text.

SOAP 1.1 (section 4.4): ``faultcode`` is the ``subcode`` when one is given, else the code (``Client``/``Server``,
or an application QName); SOAP 1.2 (part 1 section 5.4): ``Code/Value`` is the code (``Sender``/``Receiver``;
an application QName is carried as the Subcode of ``Receiver``), ``Code/Subcode/Value`` the ``subcode``, and
the ``detail`` elements go in ``detail``/``Detail``.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.primitives.xml import Element
from wssc.security.soap import SOAP11, SOAPVersion

#: WS-Addressing 1.0 SOAP Binding section 6: the action of a SOAP fault without one of its own.
SOAP_FAULT_ACTION: Final = ns.WSA10 + "/soap/fault"
#: The SOAP codes by version: an application may name them in either version's words.
_SOAP11_CODES: Final = {"Sender": "Client", "Receiver": "Server"}
_SOAP12_CODES: Final = {"Client": "Sender", "Server": "Receiver"}
_SOAP_CODES: Final = frozenset(
    {"Sender", "Receiver", "Client", "Server", "MustUnderstand", "VersionMismatch", "DataEncodingUnknown"}
)


class ApplicationFault(Exception):
    """Raised by a handler: the SOAP fault to answer with (module documentation).

    ``code``: a SOAP code (``"Sender"``/``"Receiver"``, or 1.1's ``"Client"``/``"Server"``) or an application
    QName in Clark notation (``"{urn:example}OutOfStock"``); ``reason``: the human-readable text; ``detail``: an
    element or elements for the fault's detail; ``subcode``: a QName refining the code; ``action``: the
    response's wsa:Action (default :data:`SOAP_FAULT_ACTION`)."""

    def __init__(
        self,
        code: str,
        reason: str,
        detail: Element | Sequence[Element] | None = None,
        *,
        subcode: str | None = None,
        action: str | None = None,
    ) -> None:
        super().__init__(reason)
        if code not in _SOAP_CODES and not code.startswith("{"):
            raise ValueError(f"fault code {code!r}: a SOAP code (Sender, Receiver...) or a QName as {{namespace}}name")
        if subcode is not None and not subcode.startswith("{"):
            raise ValueError(f"fault subcode {subcode!r}: a QName as {{namespace}}name")
        self.code = code
        self.reason = reason
        self.detail = [] if detail is None else [detail] if isinstance(detail, etree._Element) else list(detail)
        self.subcode = subcode
        self.action = action or SOAP_FAULT_ACTION

    def element(self, soap: SOAPVersion) -> Element:
        """The ``Fault`` element for the response Body."""
        fault = etree.Element(soap.qname("Fault"), nsmap={"s": soap.namespace})
        if soap is SOAP11:
            _code(fault, "faultcode", self.subcode or self.code, _SOAP11_CODES)
            etree.SubElement(fault, "faultstring").text = self.reason
            detail = etree.SubElement(fault, "detail") if self.detail else None
        else:
            top, sub = (self.code, self.subcode) if self.code in _SOAP_CODES else ("Receiver", self.code)
            code = etree.SubElement(fault, soap.qname("Code"))
            _code(code, soap.qname("Value"), top, _SOAP12_CODES)
            if sub is not None:
                _code(etree.SubElement(code, soap.qname("Subcode")), soap.qname("Value"), sub, _SOAP12_CODES)
            text = etree.SubElement(etree.SubElement(fault, soap.qname("Reason")), soap.qname("Text"))
            text.set(ns.qn(ns.XML, "lang"), "en")
            text.text = self.reason
            detail = etree.SubElement(fault, soap.qname("Detail")) if self.detail else None
        for element in self.detail:
            assert detail is not None
            detail.append(deepcopy(element))
        return fault


def _code(parent: Element, tag: str, code: str, aliases: dict[str, str]) -> None:
    """A child holding ``code`` as QName text: a SOAP code with the envelope's prefix ``s``, an application
    QName with the prefix ``f`` declared on the element itself."""
    if not code.startswith("{"):
        etree.SubElement(parent, tag).text = f"s:{aliases.get(code, code)}"
        return
    namespace, _, local = code[1:].partition("}")
    etree.SubElement(parent, tag, nsmap={"f": namespace}).text = f"f:{local}"
