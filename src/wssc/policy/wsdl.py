"""The security policies a WSDL 1.1 document publishes, per binding, operation and port (WS-PolicyAttachment).

Policies attach to ``wsdl:binding``, ``wsdl:port``, ``wsdl:binding/wsdl:operation`` and its ``wsdl:input`` /
``wsdl:output`` as ``wsp:PolicyReference`` or inline ``wsp:Policy`` children, or through a ``wsp:PolicyURIs``
attribute (WS-PolicyAttachment 1.5 section 3.1, XML element attachment).  The endpoint policy of a binding is
what is attached to it; the effective policy of a message merges (conjunction) the endpoint's, the operation's
and the message's (section 4.1, the endpoint, operation and message policy subjects), which is how WCF spreads a
binding's policy (binding: the security binding; input/output: SignedParts and EncryptedParts).  For every port
we also read its address, its SOAP version and the endpoint identity WCF publishes in the port's endpoint
reference: the service certificate (``wsa10:EndpointReference/Identity/KeyInfo/X509Data/X509Certificate``) or
the service's name (``Identity/Spn``, ``Upn`` or ``Dns``, the SPNEGO target, NEGOTIATION.md section 6).

Documents are untrusted: they are parsed by the hardened parser (no DTDs, 4 MB) with room for WSDL nesting
(:data:`POLICY_LIMITS`), and normalised within the bounds of :mod:`wssc.policy.ws_policy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from lxml import etree

from wssc import namespaces as ns
from wssc.errors import WsscError
from wssc.limits import Limits
from wssc.policy.reader import PolicyReader
from wssc.policy.security_policy import SecurityPolicy
from wssc.policy.ws_policy import (
    WSP_NAMESPACES,
    Alternatives,
    Normaliser,
    PolicyError,
    child_elements,
    is_policy_element,
)
from wssc.primitives.xml import Element, b64decode, local_id, parse
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion

WSDL: Final = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12: Final = "http://schemas.xmlsoap.org/wsdl/soap12/"
#: WCF's endpoint identity ("Web Services Addressing Endpoint References and Identity")
WS_IDENTITY: Final = "http://schemas.xmlsoap.org/ws/2006/02/addressingidentity"
#: WSDL documents nest deeper than SOAP messages: WCF's secure-conversation bindings reach 21 levels.
POLICY_LIMITS: Final = Limits(max_xml_depth=64)

#: Longest Spn, Upn or Dns identity read: Active Directory's ``userPrincipalName`` bound (``rangeUpper`` 1024,
#: MS-ADA3 section 2.349), also applied to SPNs (the schema sets none) and DNS names (at most 253, RFC 1035).
MAX_IDENTITY_CHARS: Final = 1024

_SOAP_BY_WSDL_NS: Final = {WSDL_SOAP11: SOAP11, WSDL_SOAP12: SOAP12}
_IDENTITY_NAMES: Final = ("Spn", "Upn", "Dns")


@dataclass(frozen=True)
class PortInfo:
    """A ``wsdl:port`` of a ``wsdl:service``."""

    service: str
    name: str
    #: local name of the ``wsdl:binding`` it implements
    binding: str
    address: str | None
    #: from ``soap:address`` / ``soap12:address``; None for other bindings
    soap: SOAPVersion | None
    #: the service certificate the port's endpoint reference publishes (WCF's X.509 identity), if any
    certificate: x509.Certificate | None
    #: the endpoint policy's alternatives for this port (the binding's, merged with the port's own)
    policies: tuple[SecurityPolicy, ...]
    #: the service's name in the port's endpoint identity (WCF ``SpnEndpointIdentity``, ``UpnEndpointIdentity``,
    #: ``DnsEndpointIdentity``; NEGOTIATION.md section 6.1); at most one is published
    spn: str | None = None
    upn: str | None = None
    dns: str | None = None

    def target_name(self) -> str | None:
        """The SPNEGO target WCF derives from the identity (NEGOTIATION.md section 6.2): the Spn or the Upn as
        they are, ``host/<dns>`` for a Dns identity, else ``host/<host of the address>`` (WCF's default DNS
        identity from the URL); None without any of them."""
        if self.spn is not None or self.upn is not None:
            return self.spn or self.upn
        host = self.dns or (urlsplit(self.address).hostname if self.address else None)
        return f"host/{host}" if host else None


@dataclass(frozen=True)
class OperationPolicy:
    """The effective policies (alternatives) of one operation's input and output messages."""

    name: str
    input: tuple[SecurityPolicy, ...]
    output: tuple[SecurityPolicy, ...]


@dataclass(frozen=True)
class BindingPolicy:
    """A ``wsdl:binding`` with its endpoint policy, its operations' message policies and its ports."""

    name: str
    #: from ``soap:binding`` / ``soap12:binding``; None for other bindings (or a bare policy document)
    soap: SOAPVersion | None
    #: the alternatives of the endpoint policy; one empty alternative when no policy is attached
    policies: tuple[SecurityPolicy, ...]
    operations: tuple[OperationPolicy, ...] = ()
    ports: tuple[PortInfo, ...] = ()

    @property
    def policy(self) -> SecurityPolicy:
        """The endpoint policy, when it has one alternative (all WCF, CXF and Metro WSDLs have exactly one)."""
        if len(self.policies) != 1:
            raise PolicyError(f"binding {self.name}: the policy has {len(self.policies)} alternatives, not one")
        return self.policies[0]


def parse_policy(data: bytes, limits: Limits = POLICY_LIMITS) -> tuple[SecurityPolicy, ...]:
    """The alternatives of a stand-alone ``wsp:Policy`` document."""
    root = parse(data, limits)
    if not is_policy_element(root, "Policy"):
        raise PolicyError(f"not a wsp:Policy document: {root.tag}")
    document = _Document(root)
    return document.read(document.normaliser.policy(root))


def parse_wsdl(data: bytes, limits: Limits = POLICY_LIMITS) -> tuple[BindingPolicy, ...]:
    """The bindings of a WSDL 1.1 document with their effective policies.  A stand-alone ``wsp:Policy``
    document reads as one binding named after its Id, without operations or ports."""
    root = parse(data, limits)
    document = _Document(root)
    if is_policy_element(root, "Policy"):
        name = local_id(root) or root.get("Name") or "policy"
        return (BindingPolicy(name, None, document.read(document.normaliser.policy(root))),)
    if root.tag != ns.qn(WSDL, "definitions"):
        raise PolicyError(f"neither a WSDL 1.1 document nor a wsp:Policy: {root.tag}")
    return tuple(document.binding(binding) for binding in root.iterfind(ns.qn(WSDL, "binding")))


class _Document:
    """One document's normaliser and reader: references are normalised and read once per document."""

    def __init__(self, root: Element) -> None:
        self.root = root
        self.normaliser = Normaliser(root)
        self._reader = PolicyReader()

    def read(self, alternatives: Alternatives) -> tuple[SecurityPolicy, ...]:
        return tuple(self._reader.policy(alternative) for alternative in self.normaliser.charge(alternatives))

    def attached(self, element: Element | None) -> Alternatives:
        """The policy attached to a WSDL element: policy children and ``wsp:PolicyURIs`` (section 3.1)."""
        if element is None:
            return ((),)
        normaliser = self.normaliser
        terms = [
            normaliser.policy(child)
            for child in child_elements(element)
            if is_policy_element(child, "Policy") or is_policy_element(child, "PolicyReference")
        ]
        for wsp in sorted(WSP_NAMESPACES):
            terms += [normaliser.reference(uri) for uri in (element.get(ns.qn(wsp, "PolicyURIs")) or "").split()]
        return normaliser.conjunction(terms)

    def binding(self, binding: Element) -> BindingPolicy:
        name = binding.get("name") or ""
        endpoint = self.attached(binding)
        policies = self.read(endpoint)
        operations = []
        for operation in binding.iterfind(ns.qn(WSDL, "operation")):
            scope = self.normaliser.conjunction([endpoint, self.attached(operation)])
            effective = [
                self.read(self.normaliser.conjunction([scope, self.attached(operation.find(ns.qn(WSDL, message)))]))
                for message in ("input", "output")
            ]
            operations.append(OperationPolicy(operation.get("name") or "", effective[0], effective[1]))
        ports = []
        for service in self.root.iterfind(ns.qn(WSDL, "service")):
            for port in service.iterfind(ns.qn(WSDL, "port")):
                if (port.get("binding") or "").rpartition(":")[2] != name:
                    continue
                own = self.attached(port)
                port_policies = policies if own == ((),) else self.read(self.normaliser.conjunction([endpoint, own]))
                ports.append(_port(service.get("name") or "", port, name, port_policies))
        return BindingPolicy(name, _soap_of(binding, "binding"), policies, tuple(operations), tuple(ports))


def _soap_of(element: Element, local: str) -> SOAPVersion | None:
    """The SOAP version of the first ``soap:<local>`` or ``soap12:<local>`` child."""
    for child in child_elements(element):
        q = etree.QName(child)
        if q.localname == local and q.namespace in _SOAP_BY_WSDL_NS:
            return _SOAP_BY_WSDL_NS[q.namespace]
    return None


def _port(service: str, port: Element, binding: str, policies: tuple[SecurityPolicy, ...]) -> PortInfo:
    name = port.get("name") or ""
    address = None
    for child in child_elements(port):
        q = etree.QName(child)
        if q.localname == "address" and q.namespace in _SOAP_BY_WSDL_NS:
            address = child.get("location")
    if address is None:  # no SOAP address: the endpoint reference's, if any
        found = port.find(f"{{{ns.WSA10}}}EndpointReference/{{{ns.WSA10}}}Address")
        address = (found.text or "").strip() if found is not None else None
    soap, certificate = _soap_of(port, "address"), _certificate(port, name)
    return PortInfo(service, name, binding, address, soap, certificate, policies, *_identity_names(port, name))


def _identity_names(port: Element, name: str) -> tuple[str | None, str | None, str | None]:
    """The Spn, Upn and Dns of the port's endpoint identity, at most one of them (NEGOTIATION.md section 6.1: WCF
    writes one claim per ``Identity``), whitespace around it removed; empty, over-long or several are refused."""
    found: dict[str, str] = {}
    for identity in port.iter(ns.qn(WS_IDENTITY, "Identity")):
        for child in child_elements(identity):
            q = etree.QName(child)
            if q.namespace != WS_IDENTITY or q.localname not in _IDENTITY_NAMES:
                continue
            value = (child.text or "").strip()
            if found:
                raise PolicyError(f"port {name}: the endpoint identity names the service more than once")
            printable = all(c.isprintable() and not c.isspace() for c in value)
            if not value or len(child) or len(value) > MAX_IDENTITY_CHARS or not printable:
                raise PolicyError(f"port {name}: the endpoint identity's {q.localname} is not a name")
            found[q.localname] = value
    return found.get("Spn"), found.get("Upn"), found.get("Dns")


def _certificate(port: Element, name: str) -> x509.Certificate | None:
    """The first certificate of the port's endpoint identity (WCF ``X509CertificateEndpointIdentity``)."""
    for identity in port.iter(ns.qn(WS_IDENTITY, "Identity")):
        for element in identity.iter(ns.qn(ns.DS, "X509Certificate")):
            try:
                return x509.load_der_x509_certificate(b64decode(element.text, "X509Certificate"))
            except (ValueError, x509.InvalidVersion, WsscError):
                raise PolicyError(f"port {name}: the published service certificate is unreadable") from None
    return None
