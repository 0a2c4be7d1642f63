"""SOAP faults for :class:`~wssc.errors.WsscError` (SOAP 1.1 section 4.4, SOAP 1.2 part 1 section 5.4).

SOAP 1.1: ``faultcode`` is the spec's QName (``wsse:InvalidSecurity``, ``wsc:BadContextToken``).
SOAP 1.2: ``Code/Value`` is ``env:Sender`` and ``Code/Subcode/Value`` the spec's QName.
The reason is the specification's text, never the local detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import ALL_ERRORS, InvalidSecurity, WsscError
from wssc.primitives.xml import Element, serialize
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.versions import SC_1_3, VERSIONS, SCVersion

#: WS-Addressing 1.0's default action of a SOAP fault (WS-Addressing 1.0 SOAP Binding, section 6).
WSA_FAULT_ACTION: Final = ns.WSA10 + "/fault"


def fault_envelope(
    error: WsscError, soap: SOAPVersion = SOAP12, version: SCVersion = SC_1_3, *, relates_to: str | None = None
) -> bytes:
    """A complete fault envelope for ``error``; ``relates_to``: the MessageID of the request it answers, written with
    WS-Addressing's fault action (as WCF answers a negotiation leg, NEGOTIATION.md section 7)."""
    soap_code = error.code_kind == "soap"
    code_ns = soap.namespace if soap_code else error.code_namespace(version.sc, version.trust)
    prefix = "s" if soap_code else error.code_kind
    env = etree.Element(soap.qname("Envelope"), nsmap={"s": soap.namespace, prefix: code_ns})
    if relates_to is not None:
        header = etree.SubElement(env, soap.qname("Header"))
        action = etree.SubElement(header, ns.qn(ns.WSA10, "Action"), nsmap={"a": ns.WSA10})
        action.set(soap.qname("mustUnderstand"), "1")
        action.text = WSA_FAULT_ACTION
        etree.SubElement(header, ns.qn(ns.WSA10, "RelatesTo"), nsmap={"a": ns.WSA10}).text = relates_to
    body = etree.SubElement(env, soap.qname("Body"))
    fault = etree.SubElement(body, soap.qname("Fault"))
    if soap is SOAP11:
        etree.SubElement(fault, "faultcode").text = f"{prefix}:{error.code}"
        etree.SubElement(fault, "faultstring").text = error.reason
    else:
        code = etree.SubElement(fault, soap.qname("Code"))
        if soap_code:
            # A SOAP-defined code is the top-level Code itself, with no Subcode (SOAP 1.2 part 1 section 5.4.6).
            etree.SubElement(code, soap.qname("Value")).text = f"s:{error.code}"
        else:
            top = soap.sender_code if error.sender_fault else soap.receiver_code
            etree.SubElement(code, soap.qname("Value")).text = f"s:{top}"
            sub = etree.SubElement(code, soap.qname("Subcode"))
            etree.SubElement(sub, soap.qname("Value")).text = f"{prefix}:{error.code}"
        reason = etree.SubElement(fault, soap.qname("Reason"))
        text = etree.SubElement(reason, soap.qname("Text"))
        text.set(ns.qn(ns.XML, "lang"), "en")
        text.text = error.reason
    return serialize(env)


@dataclass(frozen=True)
class Fault:
    """A fault as read from a response: its code QName (Clark), reason and matching error class."""

    code: str
    reason: str
    error: type[WsscError] | None

    def to_error(self, default: type[WsscError] = InvalidSecurity) -> WsscError:
        """The matching error (``default`` for a code no class names), carrying the code and reason as sent."""
        error = (self.error or default)(self.reason)
        error.fault_code, error.fault_reason = self.code, self.reason
        return error

    def raise_error(self) -> None:
        raise self.to_error()


def _resolve_qname(el: Element, text: str | None) -> str:
    value = (text or "").strip()
    prefix, _, local = value.rpartition(":")
    uri = el.nsmap.get(prefix or None)
    return ns.qn(uri, local) if uri else local


def read_fault(root: Element) -> Fault | None:
    """The fault in an envelope, or None when the Body holds none."""
    for soap in (SOAP11, SOAP12):
        body = root.find(soap.qname("Body"))
        if body is None:
            continue
        fault = body.find(soap.qname("Fault"))
        if fault is None:
            return None
        if soap is SOAP11:
            code_el = fault.find("faultcode")
            code = _resolve_qname(code_el, code_el.text) if code_el is not None else ""
            reason = fault.findtext("faultstring") or ""
        else:
            sub = fault.find(f"{soap.qname('Code')}/{soap.qname('Subcode')}/{soap.qname('Value')}")
            top = fault.find(f"{soap.qname('Code')}/{soap.qname('Value')}")
            chosen = sub if sub is not None else top
            code = _resolve_qname(chosen, chosen.text) if chosen is not None else ""
            reason = fault.findtext(f"{soap.qname('Reason')}/{soap.qname('Text')}") or ""
        return Fault(code, reason, _error_for(code))
    return None


def _error_for(code: str) -> type[WsscError] | None:
    namespace, _, local = code[1:].partition("}") if code.startswith("{") else ("", "", code)
    for cls in ALL_ERRORS:
        if cls.code != local:
            continue
        if cls.code_kind == "wsse" and namespace == ns.WSSE:
            return cls
        if cls.code_kind == "wsc" and namespace in {v.sc for v in VERSIONS}:
            return cls
        if cls.code_kind == "wst" and namespace in {v.trust for v in VERSIONS}:
            return cls
        if cls.code_kind == "soap" and namespace in (SOAP11.namespace, SOAP12.namespace):
            return cls
        if cls.code_kind == "dnse" and namespace == ns.DNSE:
            return cls
    return None
