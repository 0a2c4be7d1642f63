"""The WS-SecurityPolicy a wssc service publishes (WS-SP 1.2 sections 5-10; what WCF's ``wsHttpBinding`` with
``establishSecurityContext=true`` and ``negotiateServiceCredential=false`` publishes, SPEC-NOTES section 11),
and its attachment to the application's WSDL (WS-PolicyAttachment section 3.1, wsdl:binding subject) with the
service certificate as the ports' endpoint identity, as WCF does.

Clients that read policy (WCF's svcutil, wssc's own :mod:`~wssc.conversation.policy_client`, zeep through
:class:`~wssc.adapters.zeep_transport.WsscTransport`) configure themselves from it.  The SP namespace follows
the service's WS-SC version: SP 1.2 with WS-SC 1.3 (Trust13), SP 2005/07 with February 2005 (Trust10).

What is published is what the service demands: every assertion comes from the ``ServiceSettings`` whose
:meth:`~wssc.conversation.settings.ServiceSettings.request_requirements` the receivers enforce, and the
bootstrap named is the one :func:`~wssc.conversation.bootstrap.require_bootstrap` insists on.
"""

from __future__ import annotations

import base64
from typing import Final

from cryptography.hazmat.primitives import serialization
from lxml import etree

from wssc import namespaces as ns
from wssc.conversation.bootstrap import (
    ANONYMOUS_FOR_CERTIFICATE,
    CERTIFICATE_FOR_CERTIFICATE,
    MUTUAL_CERTIFICATE,
    USERNAME_FOR_CERTIFICATE,
    ServiceCredentials,
)
from wssc.conversation.settings import ServiceSettings, encrypts_signature
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


def _layout(policy: ProtectionPolicy) -> str:
    """The suite, layout and protection flags of a binding (sections 6.1-6.5, 7.4-7.5)."""
    flags = "<sp:IncludeTimestamp/>" if policy.include_timestamp else ""
    flags += "<sp:EncryptBeforeSigning/>" if policy.order is ProtectionOrder.ENCRYPT_BEFORE_SIGN else ""
    flags += "<sp:EncryptSignature/>" if encrypts_signature(policy) else ""
    return (
        f"<sp:AlgorithmSuite><wsp:Policy><sp:{policy.suite.name}/></wsp:Policy></sp:AlgorithmSuite>"
        f"<sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout>{flags}<sp:OnlySignEntireHeadersAndBody/>"
    )


def _binding(token: str, policy: ProtectionPolicy) -> str:
    """An sp:SymmetricBinding with ``token`` as protection token and ``policy``'s options (section 7.4)."""
    return (
        f"<sp:SymmetricBinding><wsp:Policy><sp:ProtectionToken><wsp:Policy>{token}</wsp:Policy></sp:ProtectionToken>"
        f"{_layout(policy)}</wsp:Policy></sp:SymmetricBinding>"
    )


def _asymmetric_binding(include: str, service_token: str, policy: ProtectionPolicy) -> str:
    """MutualCertificate (section 7.5, WCF's ``CreateMutualCertificateBindingElement``): the client's X.509
    token, sent with every request, signs; the service's, never sent, is the recipient of the EncryptedKey."""
    client = (
        f'<sp:X509Token sp:IncludeToken="{include}/AlwaysToRecipient"><wsp:Policy><sp:WssX509V3Token10/>'
        "</wsp:Policy></sp:X509Token>"
    )
    return (
        f"<sp:AsymmetricBinding><wsp:Policy><sp:InitiatorToken><wsp:Policy>{client}</wsp:Policy></sp:InitiatorToken>"
        f"<sp:RecipientToken><wsp:Policy>{service_token}</wsp:Policy></sp:RecipientToken>{_layout(policy)}"
        "</wsp:Policy></sp:AsymmetricBinding>"
    )


def _parts(policy: ProtectionPolicy, addressing: bool) -> str:
    """SignedParts and EncryptedParts (sections 4.1.1, 4.2.1): what ``ServiceSettings.request_requirements``
    demands signed (Body, and every WS-Addressing header when ``addressing``) and encrypted (Body)."""
    headers = "".join(f'<sp:Header Name="{name}" Namespace="{ns.WSA10}"/>' for name in _WSA_HEADERS)
    signed = ("<sp:Body/>" if policy.sign_body else "") + (headers if addressing else "")
    text = f"<sp:SignedParts>{signed}</sp:SignedParts>" if policy.sign and signed else ""
    return text + ("<sp:EncryptedParts><sp:Body/></sp:EncryptedParts>" if policy.encrypt else "")


def _trust(settings: ServiceSettings) -> str:
    name = "Trust13" if settings.version is SC_1_3 else "Trust10"
    mode = settings.entropy_mode
    entropy = "<sp:RequireClientEntropy/>" if mode in (EntropyMode.CLIENT, EntropyMode.COMBINED) else ""
    entropy += "<sp:RequireServerEntropy/>" if mode in (EntropyMode.SERVER, EntropyMode.COMBINED) else ""
    return f"<sp:{name}><wsp:Policy><sp:MustSupportIssuedTokens/>{entropy}</wsp:Policy></sp:{name}>"


def published_bootstrap(credentials: ServiceCredentials, settings: ServiceSettings) -> str:
    """The bootstrap a service publishes: its settings' when named, else the one its credentials suggest."""
    if settings.bootstrap is not None:
        return settings.bootstrap
    if credentials.users is not None:
        return USERNAME_FOR_CERTIFICATE
    return CERTIFICATE_FOR_CERTIFICATE if credentials.client_trust is not None else ANONYMOUS_FOR_CERTIFICATE


def service_policy(credentials: ServiceCredentials, settings: ServiceSettings) -> Element:
    """The endpoint policy (``wsu:Id`` :data:`POLICY_ID`): a SecureConversationToken whose bootstrap is
    :func:`published_bootstrap`: the symmetric binding over the service certificate, with a signed-encrypted
    UsernameToken (UserNameForCertificate) or the client's X.509 token endorsing (certificate-for-certificate),
    or the asymmetric MutualCertificate binding.  Every assertion is one the service enforces
    (:meth:`ServiceSettings.request_requirements`)."""
    sp = ns.SP12 if settings.version is SC_1_3 else ns.SP11
    include = f"{sp}/IncludeToken"
    policy = settings.policy
    kind = published_bootstrap(credentials, settings)
    derived = "<sp:RequireDerivedKeys/>" if policy.derived_keys else ""
    x509 = (
        f'<sp:X509Token sp:IncludeToken="{include}/Never"><wsp:Policy>{{}}<sp:RequireThumbprintReference/>'
        "<sp:WssX509V3Token10/></wsp:Policy></sp:X509Token>"
    )
    supporting = ""
    if kind == USERNAME_FOR_CERTIFICATE:
        supporting = (
            f'<sp:SignedEncryptedSupportingTokens><wsp:Policy><sp:UsernameToken sp:IncludeToken="{include}/'
            'AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy>'
            "</sp:SignedEncryptedSupportingTokens>"
        )
    elif kind == CERTIFICATE_FOR_CERTIFICATE:
        supporting = (
            f'<sp:EndorsingSupportingTokens><wsp:Policy><sp:X509Token sp:IncludeToken="{include}/AlwaysToRecipient">'
            "<wsp:Policy><sp:RequireThumbprintReference/><sp:WssX509V3Token10/></wsp:Policy></sp:X509Token>"
            "</wsp:Policy></sp:EndorsingSupportingTokens>"
        )
    if kind == MUTUAL_CERTIFICATE:
        binding = _asymmetric_binding(include, x509.format(""), policy)
    else:
        binding = _binding(x509.format(derived), policy)
    wss11 = (
        "<sp:Wss11><wsp:Policy><sp:MustSupportRefKeyIdentifier/><sp:MustSupportRefIssuerSerial/>"
        "<sp:MustSupportRefThumbprint/><sp:MustSupportRefEncryptedKey/>{}</wsp:Policy></sp:Wss11>"
    )
    bootstrap = (
        _parts(policy, policy.sign_addressing_headers)
        + binding
        + supporting
        + wss11.format("<sp:RequireSignatureConfirmation/>")
        + _trust(settings)
    )
    sct = (
        f'<sp:SecureConversationToken sp:IncludeToken="{include}/AlwaysToRecipient"><wsp:Policy>{derived}'
        f"<sp:BootstrapPolicy><wsp:Policy>{bootstrap}</wsp:Policy></sp:BootstrapPolicy></wsp:Policy>"
        "</sp:SecureConversationToken>"
    )
    addressing = policy.sign_addressing_headers and not settings.unsigned_addressing
    text = (
        f'<wsp:Policy xmlns:wsp="{_WSP}" xmlns:sp="{sp}" xmlns:wsu="{ns.WSU}" xmlns:wsaw="{_WSAW}" '
        f'wsu:Id="{POLICY_ID}"><wsp:ExactlyOne><wsp:All>{_binding(sct, policy)}{_parts(policy, addressing)}'
        f"{wss11.format('')}{_trust(settings)}<wsaw:UsingAddressing/></wsp:All></wsp:ExactlyOne></wsp:Policy>"
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
