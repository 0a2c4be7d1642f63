"""The WS-SecurityPolicy a wssc service publishes (WS-SP 1.2 sections 5-10; what WCF's ``wsHttpBinding`` with
``establishSecurityContext=true`` and ``negotiateServiceCredential=false`` publishes, SPEC-NOTES section 11),
and its attachment to the application's WSDL (WS-PolicyAttachment section 3.1, wsdl:binding subject) with the
service certificate as the ports' endpoint identity, as WCF does.

Clients that read policy (WCF's svcutil, wssc's own :mod:`~wssc.conversation.policy_client`, zeep through
:class:`~wssc.adapters.zeep_transport.WsscTransport`) configure themselves from it.  The SP namespace follows
the service's WS-SC version: SP 1.2 with WS-SC 1.3 (Trust13), SP 2005/07 with February 2005 (Trust10).
"""

from __future__ import annotations

import base64
from typing import Final

from cryptography.hazmat.primitives import serialization
from lxml import etree

from wssc import namespaces as ns
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.settings import ServiceSettings
from wssc.errors import InvalidSecurity
from wssc.primitives.xml import Element, parse
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3

_WSP: Final = "http://schemas.xmlsoap.org/ws/2004/09/policy"
_WSDL: Final = "http://schemas.xmlsoap.org/wsdl/"
_WSAW: Final = "http://www.w3.org/2006/05/addressing/wsdl"
_IDENTITY: Final = "http://schemas.xmlsoap.org/ws/2006/02/addressingidentity"
_WSA_HEADERS: Final = ("To", "From", "FaultTo", "ReplyTo", "MessageID", "RelatesTo", "Action")
POLICY_ID: Final = "wssc_SecureConversation_policy"


def _binding(sp: str, token: str, policy: ProtectionPolicy) -> str:
    """An sp:SymmetricBinding with ``token`` as protection token and ``policy``'s options (section 7.4)."""
    order = "<sp:EncryptBeforeSigning/>" if policy.order is ProtectionOrder.ENCRYPT_BEFORE_SIGN else ""
    flags = "<sp:IncludeTimestamp/>" if policy.include_timestamp else ""
    flags += order + ("<sp:EncryptSignature/>" if policy.encrypt_signature else "")
    return (
        f"<sp:SymmetricBinding><wsp:Policy><sp:ProtectionToken><wsp:Policy>{token}</wsp:Policy></sp:ProtectionToken>"
        f"<sp:AlgorithmSuite><wsp:Policy><sp:{policy.suite.name}/></wsp:Policy></sp:AlgorithmSuite>"
        f"<sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout>{flags}<sp:OnlySignEntireHeadersAndBody/>"
        "</wsp:Policy></sp:SymmetricBinding>"
    )


def _trust(settings: ServiceSettings) -> str:
    name = "Trust13" if settings.version is SC_1_3 else "Trust10"
    mode = settings.entropy_mode
    entropy = "<sp:RequireClientEntropy/>" if mode in (EntropyMode.CLIENT, EntropyMode.COMBINED) else ""
    entropy += "<sp:RequireServerEntropy/>" if mode in (EntropyMode.SERVER, EntropyMode.COMBINED) else ""
    return f"<sp:{name}><wsp:Policy><sp:MustSupportIssuedTokens/>{entropy}</wsp:Policy></sp:{name}>"


def service_policy(credentials: ServiceCredentials, settings: ServiceSettings) -> Element:
    """The endpoint policy (``wsu:Id`` :data:`POLICY_ID`): a SecureConversationToken whose bootstrap is the
    symmetric binding over the service certificate, with a signed-encrypted UsernameToken when the service
    authenticates by password, or the client's X.509 token endorsing when it trusts client certificates."""
    sp = ns.SP12 if settings.version is SC_1_3 else ns.SP11
    include = f"{sp}/IncludeToken"
    policy = settings.policy
    derived = "<sp:RequireDerivedKeys/>" if policy.derived_keys else ""
    x509 = (
        f'<sp:X509Token sp:IncludeToken="{include}/Never"><wsp:Policy>{derived}<sp:RequireThumbprintReference/>'
        "<sp:WssX509V3Token10/></wsp:Policy></sp:X509Token>"
    )
    supporting = ""
    if credentials.users is not None:
        supporting = (
            f'<sp:SignedEncryptedSupportingTokens><wsp:Policy><sp:UsernameToken sp:IncludeToken="{include}/'
            'AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy>'
            "</sp:SignedEncryptedSupportingTokens>"
        )
    elif credentials.client_trust is not None:
        supporting = (
            f'<sp:EndorsingSupportingTokens><wsp:Policy><sp:X509Token sp:IncludeToken="{include}/AlwaysToRecipient">'
            "<wsp:Policy><sp:RequireThumbprintReference/><sp:WssX509V3Token10/></wsp:Policy></sp:X509Token>"
            "</wsp:Policy></sp:EndorsingSupportingTokens>"
        )
    headers = "".join(f'<sp:Header Name="{name}" Namespace="{ns.WSA10}"/>' for name in _WSA_HEADERS)
    wss11 = (
        "<sp:Wss11><wsp:Policy><sp:MustSupportRefKeyIdentifier/><sp:MustSupportRefIssuerSerial/>"
        "<sp:MustSupportRefThumbprint/><sp:MustSupportRefEncryptedKey/>{}</wsp:Policy></sp:Wss11>"
    )
    bootstrap = (
        f"<sp:SignedParts><sp:Body/>{headers}</sp:SignedParts><sp:EncryptedParts><sp:Body/></sp:EncryptedParts>"
        + _binding(sp, x509, policy)
        + supporting
        + wss11.format("<sp:RequireSignatureConfirmation/>")
        + _trust(settings)
    )
    sct = (
        f'<sp:SecureConversationToken sp:IncludeToken="{include}/AlwaysToRecipient"><wsp:Policy>{derived}'
        f"<sp:BootstrapPolicy><wsp:Policy>{bootstrap}</wsp:Policy></sp:BootstrapPolicy></wsp:Policy>"
        "</sp:SecureConversationToken>"
    )
    text = (
        f'<wsp:Policy xmlns:wsp="{_WSP}" xmlns:sp="{sp}" xmlns:wsu="{ns.WSU}" xmlns:wsaw="{_WSAW}" '
        f'wsu:Id="{POLICY_ID}"><wsp:ExactlyOne><wsp:All>{_binding(sp, sct, policy)}{wss11.format("")}'
        f"{_trust(settings)}<wsaw:UsingAddressing/></wsp:All></wsp:ExactlyOne></wsp:Policy>"
    )
    return etree.fromstring(text)


def publish_wsdl(
    wsdl: bytes, credentials: ServiceCredentials, settings: ServiceSettings, address: str | None = None
) -> bytes:
    """``wsdl`` with :func:`service_policy` attached to each of its bindings and the service certificate as
    each port's endpoint identity (``wsa10:EndpointReference/Identity/KeyInfo/X509Data``); ``address``, when
    given, replaces every port's SOAP address (the URL the document was asked from, as WCF answers ``?wsdl``)."""
    root = parse(wsdl)
    if root.tag != ns.qn(_WSDL, "definitions"):
        raise InvalidSecurity("not a WSDL 1.1 document")
    root.insert(0, service_policy(credentials, settings))
    for binding in root.iterfind(ns.qn(_WSDL, "binding")):
        reference = etree.Element(ns.qn(_WSP, "PolicyReference"), URI="#" + POLICY_ID)
        binding.insert(0, reference)
    der = base64.b64encode(credentials.certificate.public_bytes(serialization.Encoding.DER)).decode()
    for port in root.iter(ns.qn(_WSDL, "port")):
        soap_address = next((c for c in port if etree.QName(c).localname == "address"), None)
        if soap_address is not None and address is not None:
            soap_address.set("location", address)
        epr = etree.SubElement(port, ns.qn(ns.WSA10, "EndpointReference"))
        location = soap_address.get("location") if soap_address is not None else address
        etree.SubElement(epr, ns.qn(ns.WSA10, "Address")).text = location or ""
        identity = etree.SubElement(epr, ns.qn(_IDENTITY, "Identity"))
        key_info = etree.SubElement(identity, ns.qn(ns.DS, "KeyInfo"))
        data = etree.SubElement(key_info, ns.qn(ns.DS, "X509Data"))
        etree.SubElement(data, ns.qn(ns.DS, "X509Certificate")).text = der
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
